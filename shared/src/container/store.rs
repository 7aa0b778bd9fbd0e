//! Where a recording's files live: a directory on disk, or memory (tests, uploads).
//! Writes are atomic (temporary file, fsync, rename), so a crash leaves either the old file or
//! the new one, never half of one.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A flat set of named files.
pub trait Store {
    /// Create or atomically replace `name`.
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Read `name`, refusing files larger than `max` bytes.
    fn get(&self, name: &str, max: u64) -> io::Result<Vec<u8>>;
    /// Every name, sorted.
    fn list(&self) -> io::Result<Vec<String>>;
}

impl<T: Store + ?Sized> Store for &T {
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        (**self).put(name, bytes)
    }
    fn get(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        (**self).get(name, max)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        (**self).list()
    }
}

fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "bad file name"))
    }
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "file larger than allowed")
}

/// A directory on disk.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// Use `dir`, creating it if needed.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<DirStore> {
        fs::create_dir_all(dir.as_ref())?;
        Ok(DirStore {
            dir: dir.as_ref().to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Store for DirStore {
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(name))?;
        // Make the rename itself durable.
        fs::File::open(&self.dir)?.sync_all()
    }

    fn get(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        check_name(name)?;
        let f = fs::File::open(self.dir.join(name))?;
        let len = f.metadata()?.len();
        if len > max {
            return Err(too_large());
        }
        let mut buf = Vec::with_capacity(len as usize);
        f.take(max + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > max {
            return Err(too_large());
        }
        Ok(buf)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            if e.file_type()?.is_file() {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Files in memory.
#[derive(Debug, Default)]
pub struct MemStore {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remove a file (tests use this to simulate loss).
    pub fn remove(&self, name: &str) -> Option<Vec<u8>> {
        self.files().remove(name)
    }

    /// Change a file in place (tests use this to simulate tampering).
    pub fn modify(&self, name: &str, f: impl FnOnce(&mut Vec<u8>)) -> bool {
        self.files().get_mut(name).map(f).is_some()
    }
}

impl Store for MemStore {
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name)?;
        self.files().insert(name.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn get(&self, name: &str, max: u64) -> io::Result<Vec<u8>> {
        let files = self.files();
        let f = files
            .get(name)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        if f.len() as u64 > max {
            return Err(too_large());
        }
        Ok(f.clone())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files().keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_store_round_trip_and_limits() {
        let d = tempfile::tempdir().unwrap();
        let s = DirStore::open(d.path().join("rec")).unwrap();
        s.put("a.age", b"hello").unwrap();
        s.put("a.age", b"hello again").unwrap();
        assert_eq!(s.get("a.age", 100).unwrap(), b"hello again");
        assert_eq!(
            s.get("a.age", 3).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(s.list().unwrap(), vec!["a.age".to_string()]);
        for bad in ["../x", "", ".hidden", "a/b"] {
            assert_eq!(
                s.put(bad, b"x").unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }
}
