//! Read-only file pages kept in the memory file for reuse. A program's text and read-only
//! data, and the libraries ld.so maps read-only, are the same bytes in every process that
//! runs them: the first exec or mmap loads them into a range of the memory file, and later
//! ones map that range again instead of reading the file into fresh pages (a shell loop that
//! runs /bin/true read busybox's 2 MiB of text into new pages each time, and gave them back
//! at exit). A range is keyed by the file's identity as fstat gives it (device, inode, size,
//! change and modification times: a file written since is another file) and by the place and
//! length of the bytes in the range. Mappings of a range count as its users; ranges no one
//! maps are kept, the least recently used given back first beyond `IDLE_LIMIT` bytes.
//! Nothing writes to a cached range: mm.rs gives a mapping its own copy before it is made
//! writable (mprotect), and MADV_DONTNEED leaves it be (its pages already are the file's).

use bulkhead_linux::shm::MemFile;
use std::collections::HashMap;

/// Bytes of cached ranges that no mapping uses, kept for the next exec.
const IDLE_LIMIT: u64 = 64 << 20;

/// A file as fstat identifies it: device, inode, size, mtime and ctime (seconds, nanoseconds).
pub type FileId = [i64; 8];

pub fn file_id(st: &libc::stat) -> FileId {
    [
        st.st_dev as i64,
        st.st_ino as i64,
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec,
        st.st_ctime,
        st.st_ctime_nsec,
        i64::from(st.st_mode),
    ]
}

/// What a cached range holds: `len` bytes, of which `filesz` bytes of the file from `offset`
/// start at byte `lead`; the rest are zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub file: FileId,
    pub offset: u64,
    pub lead: u64,
    pub filesz: u64,
    pub len: u64,
}

struct Entry {
    key: Key,
    /// Where the range is in the memory file.
    at: u64,
    users: u32,
    /// When it was last mapped (a counter), for eviction.
    used: u64,
}

#[derive(Default)]
pub struct FileCache {
    by_key: HashMap<Key, u32>,
    entries: HashMap<u32, Entry>,
    next_id: u32,
    clock: u64,
    idle: u64,
}

impl FileCache {
    /// The range holding `key`'s bytes, with one more user: (entry id, memory-file offset).
    /// None when it is not cached.
    pub fn take(&mut self, key: &Key) -> Option<(u32, u64)> {
        let id = *self.by_key.get(key)?;
        self.clock += 1;
        let e = self.entries.get_mut(&id)?;
        if e.users == 0 {
            self.idle -= e.key.len;
        }
        e.users += 1;
        e.used = self.clock;
        Some((id, e.at))
    }

    /// Records a range just loaded at `at`, with one user.
    pub fn insert(&mut self, key: Key, at: u64) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.clock += 1;
        let id = self.next_id;
        self.by_key.insert(key, id);
        self.entries.insert(
            id,
            Entry {
                key,
                at,
                users: 1,
                used: self.clock,
            },
        );
        id
    }

    /// One more mapping of entry `id` (a fork, a split mapping).
    pub fn hold(&mut self, id: u32) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.users += 1;
        }
    }

    /// One mapping less of entry `id`; idle ranges beyond the limit are given back.
    pub fn release(&mut self, id: u32, file: &MemFile) {
        let Some(e) = self.entries.get_mut(&id) else {
            return;
        };
        e.users = e.users.saturating_sub(1);
        if e.users == 0 {
            self.idle += e.key.len;
            self.evict(file);
        }
    }

    /// Gives back the least recently used idle ranges while more than IDLE_LIMIT is idle.
    fn evict(&mut self, file: &MemFile) {
        while self.idle > IDLE_LIMIT {
            let Some((&id, _)) = self
                .entries
                .iter()
                .filter(|(_, e)| e.users == 0)
                .min_by_key(|(_, e)| e.used)
            else {
                return;
            };
            if let Some(e) = self.entries.remove(&id) {
                self.by_key.remove(&e.key);
                self.idle -= e.key.len;
                let _ = file.punch(e.at as usize, e.key.len as usize);
            }
        }
    }
}
