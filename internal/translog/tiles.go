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
// tile the tree does not have (see OfTree) is ErrRange. A partial tile of
// an older tree is read from the same stored hashes as the full tiles:
// give TileData that tree's size.
func TileData(ctx context.Context, r Reader, t tlog.Tile, size int64) ([]byte, error) {
	if !OfTree(t, size) {
		return nil, fmt.Errorf("tile %s of a tree of %d leaves: %w", TilePath(t), size, ErrRange)
	}
	from := t.N << tileHeight
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

// OfTree reports whether t is a tile of the tree of size leaves: a full
// tile within it, or the partial tile the tree has at the tile's level
// (the one whose width is what is left of the level past its last full
// tile). Every tree size has its own partial tiles, which never change
// (C2SP tlog-tiles: a log serves those of every size it signed a
// checkpoint for).
func OfTree(t tlog.Tile, size int64) bool {
	if t.H != tileHeight || t.W < 1 || t.W > tileWidth || t.N < 0 || size < 0 {
		return false
	}
	count := size >> (tileHeight * max(t.L, 0)) // hashes (or entries) at the tile's level
	end := t.N<<tileHeight + int64(t.W)
	if t.W == tileWidth {
		return end <= count
	}
	return end == count
}

// PartialSizes is the range of tree sizes [lo, hi) whose partial tile at
// t's level is t (t not full).
func PartialSizes(t tlog.Tile) (lo, hi int64) {
	count := t.N<<tileHeight + int64(t.W)
	shift := tileHeight * max(t.L, 0)
	return count << shift, (count + 1) << shift
}

// NewTiles is what a tree of size leaves has that one of size old does
// not: its hash tiles (Go's tlog.NewTiles: the full tiles completed since
// and the partial ones of size) and an entry bundle beside each level-0
// tile. From 0 it is every tile of the tree.
func NewTiles(old, size int64) []tlog.Tile {
	var out []tlog.Tile
	for _, t := range tlog.NewTiles(tileHeight, old, size) {
		out = append(out, t)
		if t.L == 0 {
			e := t
			e.L = -1
			out = append(out, e)
		}
	}
	return out
}
