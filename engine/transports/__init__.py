"""Image sources and sinks outside the store: docker-archive, OCI layout, rootfs tarballs.

Every reader returns objects implementing ``layerlab.engine.image.Image`` / ``Layer``;
every writer accepts them, so ``save`` is "store image -> archive writer" and
``load`` is "archive reader -> store".
"""
