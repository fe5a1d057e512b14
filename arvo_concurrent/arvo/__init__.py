"""arvo subpackage of arvo_concurrent."""
