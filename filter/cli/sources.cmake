# The command line's sources (the top-level CMakeLists.txt builds them into
# the dmvfilter executable, with the "cli" view of cmake/DmvfLayers.cmake).
set(DMVF_CLI_SRCS
  account.c
  args.c
  cmd_audit.c
  cmd_filter.c
  cmd_keys.c
  cmd_notices.c
  cmd_policy.c
  cmd_review.c
  cmd_serve.c
  cmd_verify.c
  compress.c
  filter_framed.c
  formats.c
  io.c
  main.c
  members.c
  parallel.c
  parallel_text.c
  passphrase.c
  progress.c
  pump.c
  sink.c)
