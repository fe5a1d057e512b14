"""memory subpackage of arvo_concurrent."""
