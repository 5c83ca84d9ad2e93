# noqa: A005 (module named like a standard-library module; imported by package)
# Copyright 2026 mtl_perception maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Open rosbag2 bags (sqlite3 or MCAP folders, or a single ``.mcap``) and write new ones.

Reading uses ``rosbags.highlevel.AnyReader``; the messages it returns duck-type as ROS
messages, so :mod:`mtl_perception.ros.conversions` decodes them directly. Writing takes
serialized CDR bytes, as recorded from DDS or made with ``rclpy.serialization``.
``rosbags`` and ``mcap`` (the ``bag`` extra) are imported where they are used, so the error
types and topic tables here import without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
import shutil
from typing import Any

import yaml

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
INFO_TYPE = 'sensor_msgs/msg/CameraInfo'


class BagError(ValueError):
    """A bag cannot be opened or lacks what was asked for; the message says what to do."""


@dataclass(frozen=True)
class BagTopics:
    image: str
    camera_info: str | None
    labels: str | None = None
    depth: str | None = None
    instances: str | None = None


def open_bag(path: str | Path) -> Any:
    """Return an opened ``AnyReader`` for a bag folder or a single ``.mcap`` file."""
    from rosbags.highlevel import AnyReader, AnyReaderError

    path = Path(path)
    if not path.exists():
        raise BagError(f'bag {path} does not exist')
    try:
        reader = AnyReader([path])
        reader.open()
    except (AnyReaderError, OSError, ValueError, KeyError) as error:
        raise BagError(f'cannot open bag {path}: {error}; expected a rosbag2 folder with '
                       'metadata.yaml (sqlite3 or MCAP) or a single .mcap file') from None
    return reader


def detect_topics(reader: Any, image: str | None = None, camera_info: str | None = None,
                  labels: str | None = None, depth: str | None = None,
                  instances: str | None = None) -> BagTopics:
    """
    Find the camera and ground-truth topics by message type and name.

    Ground-truth images are recognised by name: ``label`` or ``semantic`` (mono8 class ids),
    ``depth`` (32FC1 metres or 16UC1 millimetres), ``instance`` (16UC1 ids, class*1000+index).
    Explicit names win; a named topic that is not in the bag is an error.
    """
    types = {c.topic: c.msgtype for c in reader.connections}
    for name in (image, camera_info, labels, depth, instances):
        if name is not None and name not in types:
            raise BagError(f'topic {name} is not in the bag; it has {sorted(types)}')
    images = [t for t, k in types.items() if k in IMAGE_TYPES]

    def named(*words: str) -> str | None:
        return next((t for t in images if any(w in t.lower() for w in words)), None)

    gt = {'labels': labels or named('label', 'semantic'), 'depth': depth or named('depth'),
          'instances': instances or named('instance')}
    if image is None:
        camera = [t for t in images if t not in gt.values()]
        if not camera:
            raise BagError(f'no camera image topic (sensor_msgs/Image or CompressedImage) in '
                           f'the bag; topics: {sorted(types)}; name one with --image-topic')
        image = min(camera, key=len)
    if camera_info is None:
        infos = [t for t, k in types.items() if k == INFO_TYPE]
        prefix = image.rsplit('/', 1)[0]
        camera_info = next((t for t in infos if t.startswith(prefix)), infos[0] if infos else None)
    return BagTopics(image=image, camera_info=camera_info, **gt)


class BagWriter:
    """Append serialized messages to a new bag as they are made (no list held in memory)."""

    def __init__(self, path: str | Path, topics: dict[str, str], storage: str = 'mcap',
                 overwrite: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores

        if storage not in ('mcap', 'sqlite3'):
            raise BagError(f'storage must be mcap or sqlite3, got {storage!r}')
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise BagError(f'{self.path} already exists; remove it or choose another output')
            shutil.rmtree(self.path)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        typestore = get_typestore(Stores.LATEST)
        self._writer = Writer(self.path, version=8, storage_plugin=plugin)
        self._writer.open()
        self._connections = {topic: self._writer.add_connection(topic, kind,
                                                                typestore=typestore)
                             for topic, kind in topics.items()}

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        self._writer.write(self._connections[topic], timestamp_ns, data)

    def close(self) -> Path:
        self._writer.close()
        return self.path

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_bag(path: str | Path, topics: dict[str, str],
              messages: Iterable[tuple[str, int, bytes]], storage: str = 'mcap',
              overwrite: bool = False) -> Path:
    """
    Write ``(topic, timestamp_ns, cdr_bytes)`` messages; ``topics`` maps topic to msgtype.

    An existing ``path`` is an error unless ``overwrite`` (then it is replaced).
    """
    with BagWriter(path, topics, storage, overwrite) as writer:
        for topic, timestamp_ns, data in messages:
            writer.write(topic, timestamp_ns, data)
    return Path(path)


@dataclass(frozen=True)
class StreamConnection:
    topic: str
    msgtype: str


class TruncatedMcapReader:
    """
    Reads an MCAP file front to back without its summary, so a cut file still yields data.

    rosbags needs the footer and index of an MCAP file; a recording killed mid-write has
    neither. This reader walks the records in order (``mcap``'s stream reader) until the data
    ends, with the same ``connections`` / ``messages`` / ``deserialize`` interface the
    evaluator uses; the error at the cut surfaces from ``messages`` for the caller to count.
    """

    def __init__(self, path: str | Path) -> None:
        from rosbags.typesys import get_typestore, Stores

        path = Path(path)
        files = [path] if path.is_file() else sorted(path.glob('*.mcap'))
        if not files:
            raise BagError(f'{path} holds no .mcap file')
        self.path = files[0]
        self.typestore = get_typestore(Stores.LATEST)
        self.connections: list[StreamConnection] = []
        self._channels: dict[int, StreamConnection] = {}
        self._scan_channels()

    def _records(self) -> Iterable[Any]:
        from mcap.stream_reader import StreamReader

        with self.path.open('rb') as handle:
            yield from StreamReader(handle, skip_magic=False).records

    def _scan_channels(self) -> None:
        from mcap.records import Channel, Schema

        schemas: dict[int, str] = {}
        try:
            for record in self._records():
                if isinstance(record, Schema):
                    schemas[record.id] = record.name
                elif isinstance(record, Channel):
                    connection = StreamConnection(record.topic, schemas.get(record.schema_id, ''))
                    self._channels[record.id] = connection
                    self.connections.append(connection)
        except Exception:  # noqa: BLE001, S110 - the cut: keep the channels seen before it
            pass
        if not self.connections:
            raise BagError(f'{self.path} is too damaged: no channel could be read')

    def messages(self, connections: Iterable[StreamConnection] | None = None
                 ) -> Iterable[tuple[StreamConnection, int, bytes]]:
        from mcap.records import Message

        wanted = set(connections) if connections is not None else None
        for record in self._records():
            if isinstance(record, Message):
                connection = self._channels.get(record.channel_id)
                if connection is not None and (wanted is None or connection in wanted):
                    yield connection, record.log_time, record.data

    def deserialize(self, raw: bytes, msgtype: str) -> Any:
        return self.typestore.deserialize_cdr(raw, msgtype)

    def close(self) -> None:
        pass


# What rosbags says about a metadata.yaml it cannot use (as opposed to a damaged data file).
_METADATA_ERRORS = ('Invalid bag metadata', 'Could not load YAML')


def metadata_problem(path: str | Path) -> str:
    """
    Return what is wrong with a bag folder's ``metadata.yaml``, or '' when it reads.

    A corrupt metadata file is not a recording cut short: reading the MCAP data front to back
    would hide the real error, so :func:`open_bag_lenient` asks this first.
    """
    metadata = Path(path) / 'metadata.yaml'
    if not metadata.is_file():
        return ''
    try:
        content = yaml.safe_load(metadata.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as error:
        return f'{metadata} cannot be read: {error}'
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        return f'{metadata} is not valid YAML{where}: {getattr(error, "problem", error)}'
    information = content.get('rosbag2_bagfile_information') if isinstance(
        content, dict) else None
    if not isinstance(information, dict):
        return f'{metadata} has no rosbag2_bagfile_information mapping: it is not rosbag2 metadata'
    missing = [key for key in ('version', 'storage_identifier', 'relative_file_paths',
                               'topics_with_message_count') if key not in information]
    if missing:
        return f'{metadata} lacks {", ".join(missing)} in rosbag2_bagfile_information'
    return ''


def open_bag_lenient(path: str | Path) -> Any:
    """
    :func:`open_bag`, falling back to :class:`TruncatedMcapReader` for a cut MCAP file.

    Only the data file may be cut: a folder whose metadata.yaml is corrupt stays an error
    that names the metadata problem.
    """
    try:
        return open_bag(path)
    except BagError as error:
        path = Path(path)
        is_mcap = path.suffix == '.mcap' or (path.is_dir() and any(path.glob('*.mcap')))
        if not is_mcap:
            raise
        problem = metadata_problem(path) if path.is_dir() else ''
        if not problem and any(words in str(error) for words in _METADATA_ERRORS):
            problem = str(error).removeprefix(f'cannot open bag {path}: ')
        if problem:
            problem = ' '.join(problem.split())  # YAML errors span lines
            raise BagError(f'cannot open bag {path}: {problem}') from None
        try:
            reader = TruncatedMcapReader(path)
        except (BagError, ImportError):
            raise error from None
        return reader
