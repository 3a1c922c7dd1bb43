"""Image geometry around the model: boxes and ROIs, preprocessing, postprocessing, 3-D geometry, overlays,
and the selection of objects at rest."""
