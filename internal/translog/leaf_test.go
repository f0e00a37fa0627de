package translog

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/consentgate/consentgate/internal/store"
)

func TestSaltIsHMAC(t *testing.T) {
	for _, key := range [][]byte{bytes.Repeat([]byte{7}, 32), {}, bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 65)} {
		for _, ref := range []string{"1", "123456789", strings.Repeat("r", 200)} {
			m := hmac.New(sha256.New, key)
			m.Write([]byte("consentgate/log/salt/v1"))
			m.Write([]byte{byte(KindConsent)})
			m.Write([]byte(ref))
			if got, want := Salt(key, KindConsent, ref), m.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("key %d bytes, ref %d bytes: %x, crypto/hmac %x", len(key), len(ref), got, want)
			}
			e := hmac.New(sha256.New, key)
			e.Write([]byte("consentgate/log/export/v1"))
			e.Write([]byte(ref))
			if got, want := ExportSalt(key, ref), e.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("export salt, key %d bytes, id %d bytes: %x, crypto/hmac %x", len(key), len(ref), got, want)
			}
		}
	}
}

func TestLeafRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	r := store.SubjectRow{Seq: 42, Subject: []byte("u1"), At: 7, RegionSet: true, Region: []byte("DE"),
		Attrs: []byte(`{"handle":"@ana","name":"Ana Lima","tier":"premium"}`)}
	d := SubjectLeaf(nil, key, &r, []string{"tier", "name", "handle"})
	l, err := DecodeLeaf(d)
	if err != nil || l.Kind != KindSubject || l.Ref != "42" || strings.Join(l.Names, ",") != "handle,name,region,tier" {
		t.Fatalf("%+v %v", l, err)
	}
	// SPEC §6: attribute names and a digest of values; never the id, a
	// handle, a name or any value in clear.
	for _, clear := range []string{"u1", "@ana", "Ana", "Lima", "premium", "DE"} {
		if bytes.Contains(d, []byte(clear)) {
			t.Fatalf("the leaf holds %q in clear", clear)
		}
	}
	p := Pseudonym(Salt(key, KindSubject, "42"), []byte("u1"))
	if !bytes.Equal(l.Pseudonym, p[:]) {
		t.Fatal("pseudonym is not SHA-256(salt ‖ id)")
	}
	if again := (&Leaf{Kind: l.Kind, Ref: l.Ref, Pseudonym: l.Pseudonym, Digest: l.Digest, Names: l.Names}).Encode(nil); !bytes.Equal(again, d) {
		t.Fatal("re-encoding differs")
	}
	for i := range d {
		if _, err := DecodeLeaf(d[:i]); err == nil {
			t.Fatalf("a truncated leaf (%d of %d bytes) decodes", i, len(d))
		}
	}
}

func TestSubjectsTreeProofs(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 9, 300} {
		ids := make([]string, n)
		keys := map[string][]byte{}
		for i := range ids {
			ids[i] = strings.Repeat("s", i+1)
			keys[ids[i]] = bytes.Repeat([]byte{byte(i)}, 32)
		}
		tree := NewSubjectsTree("e1", ids, keys)
		root := tree.Root()
		for _, id := range ids {
			p := Pseudonym(ExportSalt(keys[id], "e1"), []byte(id))
			i, pr, ok := tree.Prove(p)
			if !ok {
				t.Fatalf("n=%d: %s not found", n, id)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), rfc6962.DefaultHasher.HashLeaf(p[:]), pr, root); err != nil {
				t.Fatalf("n=%d, %s at %d: %v", n, id, i, err)
			}
		}
		if _, _, ok := tree.Prove(Pseudonym([]byte("x"), []byte("nobody"))); ok {
			t.Fatal("a subject not in the export is proven in it")
		}
	}
}

func TestTilePaths(t *testing.T) {
	for _, c := range []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 1, N: 1234067, W: 256}, "tile/1/x001/x234/067"},
		{tlog.Tile{H: 8, L: 0, N: 3, W: 17}, "tile/0/003.p/17"},
		{tlog.Tile{H: 8, L: -1, N: 5, W: 256}, "tile/entries/005"},
	} {
		if got := TilePath(c.tile); got != c.path {
			t.Errorf("%+v: %s, want %s", c.tile, got, c.path)
		}
		back, ok := ParseTilePath(strings.TrimPrefix(c.path, "tile/"))
		if !ok || back != c.tile {
			t.Errorf("%s parses to %+v (%v)", c.path, back, ok)
		}
	}
	for _, bad := range []string{"01/000", "x/000", "0/1", "entries/000.p/0", "-1/000"} {
		if _, ok := ParseTilePath(bad); ok {
			t.Errorf("%q parses", bad)
		}
	}
}

// TestConsentLeafPolicy: a consent row that noted no policy version
// derives the leaf every consentgate before it did (stores made then still
// verify), and the version and notice a row notes are covered by its leaf.
func TestConsentLeafPolicy(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	row := func(policy, notice string) store.ConsentRow {
		return store.ConsentRow{Seq: 42, Subject: []byte("u1"), Purpose: []byte("train_ai_system"), Recipient: []byte("third_party"),
			State: 2, At: 1_733_011_200_000_000, Source: []byte("settings"), Policy: []byte(policy), Notice: []byte(notice)}
	}
	legacy := row("", "")
	// Derived by the code before consent events noted a version.
	const (
		legacyLeaf   = "0101023432455a82352c41f8d7134ffcb81415c51cb279c3aee40e13f3e419ccd7f39c0f17c5e3880a6cd473187899d4d5520d410841739d146e7066ac391e19ccf9485f1c"
		legacyErased = "f7656e3f5782358783f6a7a172d006e2d7002f90b2d8942d4b7c0f7e10812781"
	)
	if got := hex.EncodeToString(ConsentLeaf(nil, key, &legacy)); got != legacyLeaf {
		t.Fatalf("the leaf of a row without a version changed:\n%s\nwas\n%s", got, legacyLeaf)
	}
	e := NewErasedRows()
	e.Consent(&legacy)
	if got := hex.EncodeToString(e.Sum()); got != legacyErased {
		t.Fatalf("an erasure's digest of a row without a version changed: %s, was %s", got, legacyErased)
	}
	seen := map[string]string{legacyLeaf: "no version"}
	for _, c := range [][2]string{{"v1", ""}, {"", "v1"}, {"v1", "https://example.com/v1"}, {"v2", "https://example.com/v1"}, {"v1", "https://example.com/v2"}} {
		r := row(c[0], c[1])
		leaf := hex.EncodeToString(ConsentLeaf(nil, key, &r))
		if prev, ok := seen[leaf]; ok {
			t.Fatalf("version %q notice %q: the same leaf as %s", c[0], c[1], prev)
		}
		seen[leaf] = fmt.Sprintf("version %q notice %q", c[0], c[1])
		if bytes.Contains(ConsentLeaf(nil, key, &r), []byte("example.com")) {
			t.Fatal("the notice is in the leaf in clear")
		}
	}
}
