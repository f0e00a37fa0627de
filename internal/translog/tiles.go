package translog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Tiles are C2SP tlog-tiles: hash tiles tile/<L>/<N>[.p/<W>] and entry
// bundles tile/entries/<N>[.p/<W>], with tlog.Tile naming them (L = -1 for
// an entry bundle, as Go's sumdb names its data tiles).

// TilePath is a tile's C2SP path: Go's sumdb path without the height.
func TilePath(t tlog.Tile) string {
	p := strings.Replace(t.Path(), "tile/8/", "tile/", 1) // tile/L/N… or tile/data/N…
	return strings.Replace(p, "tile/data/", "tile/entries/", 1)
}

// ParseTilePath reads a C2SP path after "tile/": <L>/<N>[.p/<W>] or
// entries/<N>[.p/<W>].
func ParseTilePath(p string) (tlog.Tile, bool) {
	level, rest := "data", p
	if r, ok := strings.CutPrefix(p, "entries/"); ok {
		rest = r
	} else {
		l, r, ok := strings.Cut(p, "/")
		n, err := strconv.Atoi(l)
		if !ok || err != nil || n < 0 || n > 63 || strconv.Itoa(n) != l {
			return tlog.Tile{}, false
		}
		level, rest = l, r
	}
	t, err := tlog.ParseTilePath("tile/8/" + level + "/" + rest)
	return t, err == nil
}

// TileData returns a tile of the tree of size leaves: the leaves' hashes
// (level 0), the stored subtree hashes (above), or the entry bundle. A
// tile the tree does not have — beyond it, or partial of another width —
// is ErrRange.
func TileData(ctx context.Context, r Reader, t tlog.Tile, size int64) ([]byte, error) {
	from := t.N << tileHeight
	count := size >> (tileHeight * max(t.L, 0)) // hashes at the tile's level
	if t.H != tileHeight || from+int64(t.W) > count || (t.W < tileWidth && from+int64(t.W) != count) {
		return nil, fmt.Errorf("tile %s of a tree of %d leaves: %w", TilePath(t), size, ErrRange)
	}
	var body []byte
	switch {
	case t.L < 0:
		err := r.LogLeaves(ctx, from, from+int64(t.W), func(_ int64, d []byte) error {
			body = binary.BigEndian.AppendUint16(body, uint16(len(d)))
			body = append(body, d...)
			return nil
		})
		return body, err
	case t.L == 0:
		hs, err := leafHashes(ctx, r, from, from+int64(t.W))
		return bytes.Join(hs, nil), err
	default:
		hs, err := hashes(ctx, r, t.L, from, from+int64(t.W))
		return bytes.Join(hs, nil), err
	}
}
