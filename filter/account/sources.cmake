# The account layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_account
  audit_log.c
  audit_read.c
  audit_report.c
  notices.c
  review.c)
