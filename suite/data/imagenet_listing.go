package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
)

// The listing cache (FolderOptions.ListingCache): per split, one file
// named by a hash of the split's path, holding each class folder's listing
// with the modification time and size of every folder it lists. A class
// folder whose folders all still have theirs is taken from the cache.
// The file is written like a prepared copy's index (checksummed, renamed
// into place); an unreadable or damaged one is ignored and rewritten.

// dirStamp is a listed folder's state.
type dirStamp struct {
	Rel   string `json:"rel"` // from the split's folder, slash-separated
	MTime int64  `json:"mtime_ns"`
	Size  int64  `json:"size"`
}

// cachedClass is one class folder's listing in the cache.
type cachedClass struct {
	Dirs      []dirStamp `json:"dirs"`
	Rel       []string   `json:"rel"`
	Size      []int64    `json:"size"`
	Ignored   int        `json:"ignored"`
	IgnoredEx []string   `json:"ignored_examples,omitempty"`
}

type listingCache struct {
	Dir     string                 `json:"dir"`
	Classes map[string]cachedClass `json:"classes"`
}

func listingCacheFile(cacheDir, splitDir string) string {
	h := sha256.Sum256([]byte(splitDir))
	return filepath.Join(cacheDir, hex.EncodeToString(h[:8])+".listing")
}

// loadListingCache is the cached listing of splitDir by class folder; nil
// when there is none (or it is damaged, or of another folder).
func loadListingCache(cacheDir, splitDir string) map[string]cachedClass {
	if cacheDir == "" {
		return nil
	}
	body, _, err := readChecked(listingCacheFile(cacheDir, splitDir))
	if err != nil {
		return nil
	}
	var c listingCache
	if json.Unmarshal(body, &c) != nil || c.Dir != splitDir {
		return nil
	}
	return c.Classes
}

// fresh reports whether every folder c lists has its recorded time and
// size still.
func (c cachedClass) fresh(splitDir string) bool {
	if len(c.Dirs) == 0 || len(c.Rel) != len(c.Size) {
		return false
	}
	for _, d := range c.Dirs {
		st, err := os.Stat(filepath.Join(splitDir, filepath.FromSlash(d.Rel)))
		if err != nil || !st.IsDir() || st.ModTime().UnixNano() != d.MTime || st.Size() != d.Size {
			return false
		}
	}
	return true
}

func (c cachedClass) listing() classListing {
	l := classListing{ignored: c.Ignored, ignoredEx: c.IgnoredEx, dirs: c.Dirs, files: make([]folderEntry, len(c.Rel))}
	for i := range c.Rel {
		l.files[i] = folderEntry{rel: c.Rel[i], size: c.Size[i]}
	}
	return l
}

// saveListingCache writes the listing of splitDir's class folders.
func saveListingCache(cacheDir, splitDir string, folders []string, lists []classListing) error {
	c := listingCache{Dir: splitDir, Classes: make(map[string]cachedClass, len(folders))}
	for k, name := range folders {
		l := &lists[k]
		if l.err != nil {
			continue
		}
		cc := cachedClass{Dirs: l.dirs, Ignored: l.ignored, IgnoredEx: l.ignoredEx, Rel: make([]string, len(l.files)), Size: make([]int64, len(l.files))}
		for i, e := range l.files {
			cc.Rel[i], cc.Size[i] = e.rel, e.size
		}
		c.Classes[name] = cc
	}
	body, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	return writeChecked(listingCacheFile(cacheDir, splitDir), body)
}
