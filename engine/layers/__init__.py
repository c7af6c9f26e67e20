"""Layer tars: write them (from a directory, a change list, an overlay upperdir),
apply them safely onto a directory, and read their entries."""
