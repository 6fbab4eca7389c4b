"""Shop analytics export files (生意参谋 / 京东商智 / 拼多多数据中心): formats, reader, drop-folder loader."""

from connectors.exports.formats import DEFAULT_FORMAT, FORMATS, ExportFile, ExportFileError, read_export
from connectors.exports.loader import ExportDropLoader, FileOutcome

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "ExportDropLoader",
    "ExportFile",
    "ExportFileError",
    "FileOutcome",
    "read_export",
]
