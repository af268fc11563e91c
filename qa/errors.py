"""Domain errors. Only qa.api turns them into HTTP responses."""


class QAError(Exception):
    """Base class for errors a user can act on."""


class IngestError(QAError):
    """A file could not be read as articles (binary, empty, undecodable, too large)."""


class IndexError_(QAError):
    """The index on disk is missing, damaged or built with another model."""


class NotFound(QAError):
    """An article or passage id that does not exist."""


class BadRequest(QAError):
    """A request argument outside its allowed range."""
