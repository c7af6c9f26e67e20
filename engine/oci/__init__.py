"""OCI and Docker image formats: digests, media types, descriptors, configs, manifests."""

from engine.oci.digest import Digest, Hasher

__all__ = ["Digest", "Hasher"]
