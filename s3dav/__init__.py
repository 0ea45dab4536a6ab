"""s3dav: a WebDAV server that fronts an S3 bucket."""

__version__ = "0.1.0"
