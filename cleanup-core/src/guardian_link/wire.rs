//! What the program tells its guardian, one record at a time, on a pipe.
//!
//! A record is `len: u32` (of what follows), `tag: u8`, `id: u64`, then the
//! tag's fields; integers little-endian, strings as `len: u32` + bytes (an
//! `OsStr`'s, so any path or argument crosses unchanged). The program writes
//! each record with one `write(2)` under a lock, so records never interleave;
//! a record cut short by the program's death is ignored by the guardian.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// A durable cleanup to do if the program dies without doing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// Remove a file, or a directory tree without following symbolic links.
    Remove(PathBuf),
    /// Run a command and wait for it, within its share of the deadline.
    Run(Command),
    /// Kill a child of `spawn` (with its process group when it leads one).
    Child { pid: i32, own_group: bool },
}

/// A command as `run_on_exit` was given it: what the guardian can rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    /// Absolute: the program's working directory when it registered.
    pub(crate) dir: PathBuf,
    /// Set (`Some`) or removed (`None`) over the inherited environment.
    pub(crate) envs: Vec<(OsString, Option<OsString>)>,
}

impl Command {
    pub(crate) fn to_std(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args).current_dir(&self.dir);
        for (key, value) in &self.envs {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
    }

    /// `program arg…`, for the guardian's report.
    pub(crate) fn describe(&self) -> String {
        let mut text = self.program.to_string_lossy().into_owned();
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    /// A durable cleanup, registered.
    Add(u64, Work),
    /// The program took it on (its drain or a drop started it).
    Claimed(u64),
    /// The program finished it.
    Done(u64),
    /// A `run_on_exit` command's process exists: written by that process
    /// itself, between its `fork` and its `exec`.
    Started(u64),
    /// `cancel()`: it will never run, here or there.
    Cancel(u64),
}

const ADD_REMOVE: u8 = 1;
const ADD_RUN: u8 = 2;
const ADD_CHILD: u8 = 3;
const CLAIMED: u8 = 4;
const DONE: u8 = 5;
const CANCEL: u8 = 6;
const STARTED: u8 = 7;

impl Record {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; 4];
        let mut tagged = |tag: u8, id: u64| {
            out.push(tag);
            out.extend_from_slice(&id.to_le_bytes());
        };
        match self {
            Record::Add(id, Work::Remove(path)) => {
                tagged(ADD_REMOVE, *id);
                put_str(&mut out, path.as_os_str());
            }
            Record::Add(id, Work::Run(command)) => {
                tagged(ADD_RUN, *id);
                put_str(&mut out, &command.program);
                put_u32(&mut out, command.args.len());
                for arg in &command.args {
                    put_str(&mut out, arg);
                }
                put_str(&mut out, command.dir.as_os_str());
                put_u32(&mut out, command.envs.len());
                for (key, value) in &command.envs {
                    put_str(&mut out, key);
                    match value {
                        Some(value) => {
                            out.push(1);
                            put_str(&mut out, value);
                        }
                        None => out.push(0),
                    }
                }
            }
            Record::Add(id, Work::Child { pid, own_group }) => {
                tagged(ADD_CHILD, *id);
                out.extend_from_slice(&pid.to_le_bytes());
                out.push(u8::from(*own_group));
            }
            Record::Claimed(id) => tagged(CLAIMED, *id),
            Record::Done(id) => tagged(DONE, *id),
            Record::Cancel(id) => tagged(CANCEL, *id),
            Record::Started(id) => tagged(STARTED, *id),
        }
        let len = u32::try_from(out.len() - 4).unwrap_or(u32::MAX);
        out[..4].copy_from_slice(&len.to_le_bytes());
        out
    }

    /// The records whole in `bytes`, and how many bytes they took: the rest
    /// is the start of a record still to come (or cut short by a death).
    pub(crate) fn decode_all(bytes: &[u8]) -> (Vec<Record>, usize) {
        let mut records = Vec::new();
        let mut used = 0;
        while let Some(len) = bytes.get(used..used + 4) {
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let Some(body) = bytes.get(used + 4..used + 4 + len) else {
                break;
            };
            if let Some(record) = Reader(body).record() {
                records.push(record);
            }
            used += 4 + len;
        }
        (records, used)
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &OsStr) {
    put_u32(out, text.len());
    out.extend_from_slice(crate::sys::os_str::bytes(text));
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    fn string(&mut self) -> Option<OsString> {
        let len = self.u32()?;
        Some(crate::sys::os_str::from_bytes(self.take(len)?.to_vec()))
    }

    fn record(&mut self) -> Option<Record> {
        let tag = self.u8()?;
        let id = self.u64()?;
        Some(match tag {
            ADD_REMOVE => Record::Add(id, Work::Remove(self.string()?.into())),
            ADD_RUN => {
                let program = self.string()?;
                let args = (0..self.u32()?)
                    .map(|_| self.string())
                    .collect::<Option<_>>()?;
                let dir = self.string()?.into();
                let envs = (0..self.u32()?)
                    .map(|_| {
                        let key = self.string()?;
                        let value = match self.u8()? {
                            0 => None,
                            _ => Some(self.string()?),
                        };
                        Some((key, value))
                    })
                    .collect::<Option<_>>()?;
                Record::Add(
                    id,
                    Work::Run(Command {
                        program,
                        args,
                        dir,
                        envs,
                    }),
                )
            }
            ADD_CHILD => {
                let pid = self.take(4)?;
                let pid = i32::from_le_bytes([pid[0], pid[1], pid[2], pid[3]]);
                Record::Add(
                    id,
                    Work::Child {
                        pid,
                        own_group: self.u8()? != 0,
                    },
                )
            }
            CLAIMED => Record::Claimed(id),
            DONE => Record::Done(id),
            CANCEL => Record::Cancel(id),
            STARTED => Record::Started(id),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_cross_the_pipe_unchanged_and_a_cut_one_waits() {
        let records = vec![
            Record::Add(1, Work::Remove("/tmp/a dir/\u{e9}".into())),
            Record::Add(
                2,
                Work::Run(Command {
                    program: "sh".into(),
                    args: vec!["-c".into(), "echo done".into()],
                    dir: "/".into(),
                    envs: vec![("A".into(), Some("1".into())), ("B".into(), None)],
                }),
            ),
            Record::Add(
                3,
                Work::Child {
                    pid: 4242,
                    own_group: true,
                },
            ),
            Record::Claimed(1),
            Record::Started(2),
            Record::Done(1),
            Record::Cancel(2),
        ];
        let mut bytes: Vec<u8> = records.iter().flat_map(Record::encode).collect();
        let whole = bytes.len();
        bytes.extend_from_slice(&Record::Done(9).encode()[..7]);
        let (decoded, used) = Record::decode_all(&bytes);
        assert_eq!(decoded, records);
        assert_eq!(used, whole);
    }
}
