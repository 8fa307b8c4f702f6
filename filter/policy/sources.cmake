# The policy layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_policy
  compile.c
  decide.c
  directory.c
  explain.c
  parse.c
  parse_accountability.c
  parse_clients.c
  parse_marking.c
  parse_node.c
  parse_profile.c
  parse_requesters.c
  parse_rule.c
  policy.c)
