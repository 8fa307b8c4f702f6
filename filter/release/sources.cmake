# The release layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_release
  boundary.c
  codec.c
  columns.c
  csv_read.c
  csv_row.c
  csv_write.c
  filter.c
  filter_stats.c
  framed.c
  json_read.c
  json_record.c
  json_write.c
  names.c
  stream.c
  verify.c)
