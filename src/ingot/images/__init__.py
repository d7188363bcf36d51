"""Images: references by URL or path, checksums, format detection and the conductor cache."""
