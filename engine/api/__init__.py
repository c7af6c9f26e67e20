"""The service layer both front ends call: the CLI (``layerlab.cli``) and the app (``layerlab.tui``).

Each fact is computed here once, typed, with ``Digest`` values for IDs, so the
two front ends only lay it out:

- ``image_rows``: the image list, one row per name (``images``, the Images panel).
- ``layer_history``: history entries paired with their layers and sizes (``history``, the History panel).
- ``saving``: ``save`` to a docker-archive or an OCI layout, with the one rule for which tags go along.
- ``building``: ``build`` with the build cache imported from / exported to registries; watch mode.
- ``layer_files``: a layer's changes, the stacked tree, file contents, waste and the ``analyze`` report,
  from one analysis cache.
- ``sizes``: ``human_size``, Docker's rule, for both front ends.
- ``ages``: ``created_since`` (``2 hours ago``), go-units' rule, for both front ends.
- ``importing``: ``import`` of a rootfs tarball, its ``--change`` lines through the Dockerfile parser.
- ``predicting``: which steps would rebuild if a file changed or an arg took a new value (``build --predict``).
- ``lessons``: the sample contexts as guided lessons (``lesson.toml``): workspace, edit, check.
- ``about``: what ``version`` and ``info`` report.
- ``key_values``: ``KEY=VALUE`` options (``--build-arg``, ``--label``, ``-e``) as Docker reads them.

Modules are imported one by one (``from layerlab.engine.api.saving import save``) so a command pays
only for what it uses.
"""
