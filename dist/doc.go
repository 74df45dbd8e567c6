// Package dist is renderswarm's release: dist/build (a script) builds the
// archives, the Debian packages and their checksums; dist/deb holds the
// package's control file, systemd user unit, desktop entry and icon;
// dist/pack writes archives reproducibly. This package's test builds a
// release (or checks one dist/build made, named by
// $RENDERSWARM_DIST_OUT) and proves what it promises.
package dist
