# The wire layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_wire
  count.c
  fields.c
  measure.c
  plan.c
  reference.c
  rewrite.c
  schema.c
  transform.c)
