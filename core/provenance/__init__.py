"""What an image declares about itself, read from its bytes before any pixel is decoded.

`reader` ties it together; `containers` finds the metadata blocks of JPEG, PNG, WebP and the
rest; `credentials` checks C2PA manifests, `xmp` reads IPTC declarations, `generators` and
`exif` recognise AI generators' own metadata; `iptc` is the vocabulary they share.
"""
