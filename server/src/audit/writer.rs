//! The thread a device's blocking I/O runs on, so that no runtime worker
//! ever waits for a disk, a pipe or a syslog daemon.
//!
//! A `file` device writing to a hung mount, or to a stdout nobody reads,
//! blocks in `write(2)` for as long as that lasts; done on a runtime worker
//! it froze every request, `sys/health` included. Here a request appends
//! its rendered entries to the device's pending buffer, wakes the writer
//! thread if it sleeps, and waits (asynchronously) for the write that
//! carries them. The thread writes whatever has gathered in one call, so
//! concurrent requests' entries are grouped as the storage groups fsyncs,
//! and a request's entries stay together. The request that finds the
//! thread asleep first lets the requests ready on its own worker add
//! theirs (it requeues itself, up to three times while more keep coming),
//! then wakes it: one wake-up of the thread per batch, not per request.
//!
//! No audit, no answer, and no unbounded wait: a request whose entries are
//! not written within the device's `write_timeout` fails (the broker turns
//! that into a 500). Once one has, the device counts as stalled and further
//! entries fail at once, until a write completes again; a pending buffer
//! past `MAX_PENDING` fails new entries too, so a stuck sink holds a
//! bounded amount of memory. Entries of requests that gave up are still
//! written when the sink comes back: the log may show a request that was
//! answered with a 500, never the reverse.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;

/// What a device does on its writer thread.
pub trait Blocking: Send + Sync + 'static {
    /// Writes `buf`, whole entries one after another; `ends` holds where
    /// each ends (a syslog device sends one datagram per entry).
    fn write_batch(&self, buf: &[u8], ends: &[usize]) -> std::io::Result<()>;

    /// Lets go of and reacquires the file or socket (SIGHUP).
    fn reopen(&self) -> std::io::Result<()>;
}

/// Past this many bytes waiting, new entries fail at once.
const MAX_PENDING: usize = 64 << 20;
/// A written buffer larger than this is not kept for reuse.
const SPARE_LIMIT: usize = 1 << 20;

/// One write (or reopen) and the requests waiting for it.
struct Batch {
    done: OnceLock<Result<(), (std::io::ErrorKind, String)>>,
    written: Notify,
}

impl Batch {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            done: OnceLock::new(),
            written: Notify::new(),
        })
    }

    fn finish(&self, result: std::io::Result<()>) {
        let _ = self.done.set(result.map_err(|e| (e.kind(), e.to_string())));
        self.written.notify_waiters();
    }

    fn outcome(&self) -> Option<std::io::Result<()>> {
        self.done.get().map(|r| {
            r.as_ref()
                .map(|_| ())
                .map_err(|(kind, msg)| std::io::Error::new(*kind, msg.clone()))
        })
    }

    /// Waits for the outcome, at most `timeout`.
    async fn wait(&self, timeout: Duration) -> Option<std::io::Result<()>> {
        let wait = async {
            loop {
                // Created before the check, so a wake-up sent after it
                // is not missed.
                let written = self.written.notified();
                if let Some(outcome) = self.outcome() {
                    return outcome;
                }
                written.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

struct State {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// The batch `buf` belongs to.
    batch: Arc<Batch>,
    /// The last written buffer, emptied, to fill next.
    spare: Vec<u8>,
    /// A reopen asked for, done before the next write.
    reopen: Option<Arc<Batch>>,
    /// The thread sleeps and must be woken.
    idle: bool,
    /// A request is gathering entries and will wake the thread.
    waking: bool,
    /// A request gave up waiting for a write; cleared when one completes.
    stalled: bool,
    /// The device is gone: the thread writes what is pending and ends.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Written buffers held clear values (`log_raw`): zeroed before reuse.
    scrub: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Poisoned only by a panic between two field updates; the buffer
        // and batch are still consistent enough to write or fail.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A device's writer thread, and the handle requests append through.
/// Dropping it lets the thread write what is pending and end.
pub struct Writer {
    shared: Arc<Shared>,
    timeout: Duration,
}

fn timed_out(timeout: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("the audit sink did not take the entry within {timeout:?}"),
    )
}

impl Writer {
    /// Starts the thread (named after the device) that runs `sink`.
    pub fn start(
        name: &str,
        sink: impl Blocking,
        timeout: Duration,
        scrub: bool,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: Vec::new(),
                ends: Vec::new(),
                batch: Batch::new(),
                spare: Vec::new(),
                reopen: None,
                idle: false,
                waking: false,
                stalled: false,
                closed: false,
            }),
            wake: Condvar::new(),
            scrub,
        });
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("audit {name}"))
            .spawn(move || run(&thread, &sink))?;
        Ok(Self { shared, timeout })
    }

    /// Appends `entries` (kept together) to the next write and returns
    /// once that write has returned, or fails after the timeout.
    pub async fn append(&self, entries: &[&[u8]]) -> std::io::Result<()> {
        let (batch, lead) = {
            let mut s = self.shared.lock();
            if s.stalled {
                return Err(timed_out(self.timeout));
            }
            let size: usize = entries.iter().map(|e| e.len()).sum();
            if s.buf.len().saturating_add(size) > MAX_PENDING {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "the audit sink is too far behind",
                ));
            }
            for e in entries {
                s.buf.extend_from_slice(e);
                let end = s.buf.len();
                s.ends.push(end);
            }
            let lead = s.idle && !s.waking;
            s.waking |= lead;
            (Arc::clone(&s.batch), lead)
        };
        if lead {
            // Dropped (also if this request is cancelled while it yields),
            // it wakes the thread: the batch never lacks a writer.
            let _waker = Waker(&self.shared);
            let mut seen = self.shared.lock().buf.len();
            for _ in 0..MAX_YIELDS {
                Requeue(false).await;
                let len = self.shared.lock().buf.len();
                if len == seen {
                    break;
                }
                seen = len;
            }
        }
        match batch.wait(self.timeout).await {
            Some(outcome) => outcome,
            None => {
                self.shared.lock().stalled = true;
                Err(timed_out(self.timeout))
            }
        }
    }

    /// Reopens the sink on its thread, after the write in progress.
    pub async fn reopen(&self) -> std::io::Result<()> {
        let (batch, wake) = {
            let mut s = self.shared.lock();
            let batch = Arc::clone(s.reopen.get_or_insert_with(Batch::new));
            (batch, std::mem::take(&mut s.idle))
        };
        if wake {
            self.shared.wake.notify_one();
        }
        batch
            .wait(self.timeout)
            .await
            .unwrap_or_else(|| Err(timed_out(self.timeout)))
    }
}

#[async_trait::async_trait]
impl super::Sink for Writer {
    async fn write(&self, entries: &[&[u8]]) -> std::io::Result<()> {
        self.append(entries).await
    }

    async fn reopen(&self) -> std::io::Result<()> {
        Writer::reopen(self).await
    }
}

/// How many times the request that will wake the thread lets others add
/// their entries while the batch keeps growing.
const MAX_YIELDS: usize = 3;

/// Wakes the writer thread when dropped.
struct Waker<'a>(&'a Shared);

impl Drop for Waker<'_> {
    fn drop(&mut self) {
        let wake = {
            let mut s = self.0.lock();
            s.waking = false;
            std::mem::take(&mut s.idle)
        };
        if wake {
            self.0.wake.notify_one();
        }
    }
}

/// Lets the tasks that are ready to run on this thread run first, without
/// looking for new I/O: the task wakes itself, so its runtime puts it at
/// the back of its run queue. (`tokio::task::yield_now` would defer it
/// until the runtime has polled its I/O driver: one `epoll_wait` a yield.)
struct Requeue(bool);

impl std::future::Future for Requeue {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The writer thread: sleeps until there is something to write, writes it
/// all in one call, tells the requests, again.
fn run(shared: &Shared, sink: &dyn Blocking) {
    loop {
        let (mut buf, ends, batch, reopen) = {
            let mut s = shared.lock();
            while s.buf.is_empty() && s.reopen.is_none() {
                if s.closed {
                    return;
                }
                s.idle = true;
                s = shared.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            s.idle = false;
            let spare = std::mem::take(&mut s.spare);
            let buf = std::mem::replace(&mut s.buf, spare);
            let ends = std::mem::take(&mut s.ends);
            let batch = std::mem::replace(&mut s.batch, Batch::new());
            (buf, ends, batch, s.reopen.take())
        };
        if let Some(r) = reopen {
            r.finish(sink.reopen());
        }
        if !buf.is_empty() {
            let result = sink.write_batch(&buf, &ends);
            if result.is_ok() {
                shared.lock().stalled = false;
            }
            batch.finish(result);
        }
        if shared.scrub {
            zeroize::Zeroize::zeroize(&mut buf);
        }
        if buf.capacity() <= SPARE_LIMIT {
            buf.clear();
            let mut s = shared.lock();
            if s.spare.capacity() < buf.capacity() {
                s.spare = buf;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Records what it wrote; blocks while the test holds `gate`.
    #[derive(Default)]
    struct Recorder {
        written: Mutex<Vec<(Vec<u8>, Vec<usize>)>>,
        gate: Mutex<()>,
        reopened: std::sync::atomic::AtomicUsize,
    }

    impl Blocking for Arc<Recorder> {
        fn write_batch(&self, buf: &[u8], ends: &[usize]) -> std::io::Result<()> {
            drop(self.gate.lock().unwrap());
            self.written
                .lock()
                .unwrap()
                .push((buf.to_vec(), ends.to_vec()));
            Ok(())
        }

        fn reopen(&self) -> std::io::Result<()> {
            self.reopened
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn entries_are_written_whole_and_together() {
        let rec = Arc::new(Recorder::default());
        let w =
            Arc::new(Writer::start("t", Arc::clone(&rec), Duration::from_secs(10), false).unwrap());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let w = Arc::clone(&w);
                tokio::spawn(async move {
                    let a = format!("req {i}\n");
                    let b = format!("resp {i}\n");
                    w.append(&[a.as_bytes(), b.as_bytes()]).await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let written = rec.written.lock().unwrap();
        let all: Vec<u8> = written.iter().flat_map(|(b, _)| b.clone()).collect();
        let text = String::from_utf8(all).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 400);
        for pair in lines.chunks(2) {
            let i = pair[0].strip_prefix("req ").unwrap();
            assert_eq!(pair[1], format!("resp {i}"));
        }
        for (buf, ends) in written.iter() {
            assert_eq!(ends.last(), Some(&buf.len()));
            assert_eq!(ends.len(), buf.iter().filter(|b| **b == b'\n').count());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_sink_fails_entries_in_time_and_recovers() {
        let rec = Arc::new(Recorder::default());
        let timeout = Duration::from_millis(200);
        let w = Writer::start("t", Arc::clone(&rec), timeout, false).unwrap();
        let (hold, release) = mpsc::channel::<()>();
        let (held, is_held) = mpsc::channel::<()>();
        // The sink hangs (a full pipe, a dead mount) until released.
        let gate = Arc::clone(&rec);
        let holder = std::thread::spawn(move || {
            let _g = gate.gate.lock().unwrap();
            held.send(()).unwrap();
            let _ = release.recv();
        });
        is_held.recv().unwrap();
        let started = std::time::Instant::now();
        let e = w.append(&[b"first\n"]).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Stalled: the next entry fails at once.
        let again = std::time::Instant::now();
        assert!(w.append(&[b"second\n"]).await.is_err());
        assert!(again.elapsed() < timeout);
        // The sink comes back: the first entry was written after all, and
        // new entries go through.
        drop(hold);
        holder.join().unwrap();
        let mut ok = false;
        for _ in 0..100 {
            if w.append(&[b"third\n"]).await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(ok, "the device did not recover");
        let text: Vec<u8> = rec
            .written
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(b, _)| b.clone())
            .collect();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("first\n") && text.ends_with("third\n"),
            "{text}"
        );
        w.reopen().await.unwrap();
        assert_eq!(rec.reopened.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// The request that was to wake the thread is dropped while it lets
    /// others add their entries (its client went away): the thread is
    /// woken all the same and writes the batch.
    #[test]
    fn a_cancelled_waker_still_gets_its_batch_written() {
        use std::future::Future;
        use std::task::{Context, Waker};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let rec = Arc::new(Recorder::default());
        let w = Writer::start("t", Arc::clone(&rec), Duration::from_secs(5), false).unwrap();
        // Wait until the thread sleeps, so the next request leads.
        while !w.shared.lock().idle {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _enter = rt.enter();
        let mut first = Box::pin(w.append(&[b"first\n"]));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(w.shared.lock().waking, "the first request leads");
        drop(first);
        rt.block_on(w.append(&[b"second\n"])).unwrap();
        let text: Vec<u8> = rec
            .written
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(b, _)| b.clone())
            .collect();
        assert_eq!(String::from_utf8(text).unwrap(), "first\nsecond\n");
    }

    #[tokio::test]
    async fn dropping_the_writer_ends_its_thread_after_the_pending_write() {
        let rec = Arc::new(Recorder::default());
        let w = Writer::start("t", Arc::clone(&rec), Duration::from_secs(5), false).unwrap();
        w.append(&[b"x\n"]).await.unwrap();
        drop(w);
        for _ in 0..100 {
            if Arc::strong_count(&rec) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the writer thread still holds its sink");
    }
}
