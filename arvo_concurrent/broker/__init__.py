"""broker subpackage of arvo_concurrent."""
