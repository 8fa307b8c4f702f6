# The keys layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_keys
  crypto.c
  keyctx_cache.c
  keyring.c
  keyring_file.c
  public_file.c
  review_keys.c
  secret_file.c
  sign.c)
