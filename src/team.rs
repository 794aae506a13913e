//! A fork-join team for the crate's parallel regions (feature `threading`): the calling thread
//! and `n − 1` helper threads share the parts of one job.
//!
//! A training step of an MNIST-sized model has about a dozen parallel regions of 50 to 500 µs.
//! Handing each to a general-purpose pool from outside it costs a wake-up of a sleeping worker
//! and of the caller at its end, measured at 15 to 25 µs a region on a 2-vCPU virtual machine;
//! the caller also sits idle while the pool's threads work. Here the caller works on the parts
//! itself, and the helpers spin for a short while after each job before they sleep, so that the
//! next region of the same step finds them awake; [`Team::park`] sends them to sleep at once
//! when other threads (matrixmultiply's) are about to need the cores. A job is published in one atomic word; a
//! helper joins it by incrementing that word's count of helpers, and only a helper that joined
//! reads the job. The caller closes the job when it has no part left to claim and waits for the
//! helpers that joined, never for one that is asleep or late.
//!
//! Parts are claimed from a shared counter, so which thread runs a part is not fixed; callers
//! give parts whose results do not depend on the thread that computes them.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A job: called once for every part index in `0..parts`.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// How long a helper keeps checking for the next job before it sleeps: longer than the serial
/// work between two regions of a training step, short enough to cost nothing once training
/// stops.
const SPIN: Duration = Duration::from_micros(300);

/// Bit of the state word set once the caller has claimed the last part (no helper may join).
const CLOSED: u64 = 1 << 31;
/// Bits of the state word that count the helpers that joined the job.
const JOINED: u64 = CLOSED - 1;

/// A value on a cache line of its own, so that the helpers polling it do not slow the
/// claims of parts next to it.
#[repr(align(128))]
struct Padded<T>(T);

struct Shared {
    /// The job's tag (a generation count, upper 32 bits), [`CLOSED`], and the number of helpers
    /// that joined it (lower bits).
    state: Padded<AtomicU64>,
    /// The job of the current tag: written by the caller before it publishes the tag, read only
    /// by helpers that joined it, cleared after they are done.
    job: UnsafeCell<Option<&'static Job<'static>>>,
    /// Number of parts of the current job.
    parts: AtomicUsize,
    /// Next part to claim.
    next: AtomicUsize,
    /// Helpers that joined the current job and finished it.
    done: AtomicUsize,
    /// The payload of the first panic of a part on a helper, raised again by the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The team is dropped: helpers return.
    shutdown: AtomicBool,
    /// Helpers asleep (or about to sleep) on `wake`.
    sleepers: AtomicUsize,
    /// Set by [`Team::park`]: spinning helpers sleep at once (cleared by the next job).
    parked: AtomicBool,
    /// How long helpers spin ([`SPIN`]; longer in a test).
    spin: Duration,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by the thread that holds the team's `busy` flag, while no
// helper can join (before the tag is published, after the job is closed and every helper that
// joined is done), and read only by helpers that joined; the other fields are atomics or sync.
unsafe impl Sync for Shared {}

/// The caller's thread plus `n − 1` helpers.
pub(crate) struct Team {
    shared: Arc<Shared>,
    /// A job is running: a nested or concurrent call runs its parts on its own thread.
    busy: AtomicBool,
    n: usize,
}

impl Team {
    /// Starts `n − 1` helper threads; `None` if one cannot be started.
    pub(crate) fn new(n: usize) -> Option<Self> {
        Self::with_spin(n, SPIN)
    }

    /// As [`new`](Self::new), with helpers that spin for `spin`.
    fn with_spin(n: usize, spin: Duration) -> Option<Self> {
        let shared = Arc::new(Shared {
            state: Padded(AtomicU64::new(CLOSED)),
            job: UnsafeCell::new(None),
            parts: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            spin,
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let team = Team {
            shared,
            busy: AtomicBool::new(false),
            n: n.max(1),
        };
        for i in 1..team.n {
            let s = Arc::clone(&team.shared);
            std::thread::Builder::new()
                .name(format!("rbms-{i}"))
                // Tag 0 is the state's first: a helper that starts after the team is dropped
                // still sees the shutdown's new tag.
                .spawn(move || helper(&s, 0))
                .ok()?;
        }
        Some(team)
    }

    /// Sends spinning helpers to sleep now instead of at the end of their spin: for work on
    /// other threads (matrixmultiply's) that needs the cores. The next job wakes them.
    pub(crate) fn park(&self) {
        let s = &*self.shared;
        if self.n > 1 && !s.parked.load(Ordering::Relaxed) {
            s.parked.store(true, Ordering::Relaxed);
        }
    }

    /// Runs `f(i)` for every `i` in `0..parts`, on this thread and the helpers; returns when
    /// all are done. A panic in a part is raised again here (with its payload, if it was on a
    /// helper) once no part is running; parts not yet started may then never run.
    pub(crate) fn run(&self, parts: usize, f: &Job<'_>) {
        if parts <= 1
            || self.n == 1
            || self
                .busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            (0..parts).for_each(f);
            return;
        }
        // From here on `Finish` frees the team however this returns.
        let finish = Finish { team: self };
        let s = &*self.shared;
        // SAFETY: the lifetime is erased for the helpers; `Finish` (also when a part panics)
        // waits until every helper that joined is done with the job, and clears it, before
        // this borrow ends.
        let job: &'static Job<'static> =
            unsafe { std::mem::transmute::<&Job<'_>, &'static Job<'static>>(f) };
        // SAFETY: we hold `busy`, and the previous job is closed with its helpers done.
        unsafe { *s.job.get() = Some(job) };
        s.parts.store(parts, Ordering::Relaxed);
        s.next.store(0, Ordering::Relaxed);
        s.parked.store(false, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
        let tag = (s.state.0.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xFFFF_FFFF;
        s.state.0.store(tag << 32, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        work(job, parts, &s.next);
        drop(finish);
        let payload = s.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(p) = payload {
            std::panic::resume_unwind(p);
        }
    }
}

/// Closes the job, waits for the helpers that joined it, and frees the team for the next.
struct Finish<'a> {
    team: &'a Team,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let s = &*self.team.shared;
        let joined = (s.state.0.fetch_or(CLOSED, Ordering::AcqRel) & JOINED) as usize;
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) != joined {
            if spins < 1 << 12 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: closed, and every helper that joined is done: nobody reads the job now.
        unsafe { *s.job.get() = None };
        if std::thread::panicking() {
            // The caller's own panic wins; a helper's payload is not raised later (forgotten,
            // not dropped: its `Drop` could panic during this unwinding).
            if let Some(p) = s.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
                std::mem::forget(p);
            }
        }
        self.team.busy.store(false, Ordering::Release);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.shutdown.store(true, Ordering::SeqCst);
        let tag = (s.state.0.load(Ordering::Relaxed) >> 32).wrapping_add(1) & 0xFFFF_FFFF;
        s.state.0.store(tag << 32 | CLOSED, Ordering::SeqCst);
        let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
        s.wake.notify_all();
    }
}

/// Claims and runs parts until none is left.
fn work(job: &Job<'_>, parts: usize, next: &AtomicUsize) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= parts {
            return;
        }
        job(i);
    }
}

/// A helper's life: wait for a job with a tag other than `last`, join it if still open, work,
/// repeat.
fn helper(s: &Shared, mut last: u64) {
    loop {
        let mut state = next_state(s, last);
        if s.shutdown.load(Ordering::Acquire) {
            return;
        }
        last = state >> 32;
        // Join: only while the job with this tag is open.
        let joined = loop {
            if state & CLOSED != 0 || state >> 32 != last {
                break false;
            }
            match s.state.0.compare_exchange_weak(
                state,
                state + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break true,
                Err(now) => state = now,
            }
        };
        if !joined {
            continue;
        }
        // SAFETY: joined while open: the caller keeps the job alive until we report done.
        let job = unsafe { (*s.job.get()).expect("a published job") };
        let parts = s.parts.load(Ordering::Relaxed);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| work(job, parts, &s.next))) {
            // Kept for the caller (never dropped here: its `Drop` could panic on this thread).
            let mut first = s.panic.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                *first = Some(p);
            } else {
                std::mem::forget(p);
            }
        }
        s.done.fetch_add(1, Ordering::Release);
    }
}

/// Waits (spinning, then asleep) for a state word whose tag differs from `last` or for shutdown.
fn next_state(s: &Shared, last: u64) -> u64 {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        let state = s.state.0.load(Ordering::Acquire);
        if state >> 32 != last {
            return state;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64)
            && (s.parked.load(Ordering::Relaxed) || start.elapsed() > s.spin)
        {
            break;
        }
        std::hint::spin_loop();
    }
    let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
    s.sleepers.fetch_add(1, Ordering::SeqCst);
    loop {
        let state = s.state.0.load(Ordering::SeqCst);
        if state >> 32 != last {
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
            return state;
        }
        guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once() {
        let team = Team::new(3).expect("team");
        for parts in [0, 1, 2, 3, 7, 100] {
            for _ in 0..50 {
                let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                team.run(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "{parts}"
                );
            }
        }
    }

    #[test]
    fn helpers_do_work_after_sleeping() {
        let team = Team::new(2).expect("team");
        std::thread::sleep(SPIN * 4);
        let threads = Mutex::new(std::collections::HashSet::new());
        for _ in 0..200 {
            team.run(2, &|_| {
                threads.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(Duration::from_micros(200));
            });
        }
        assert_eq!(threads.lock().unwrap().len(), 2);
    }

    #[test]
    fn parked_helpers_sleep_at_once_and_wake_for_the_next_job() {
        // Helpers that would spin for an hour: only `park` sends them to sleep.
        let team = Team::with_spin(3, Duration::from_secs(3600)).expect("team");
        let threads = Mutex::new(std::collections::HashSet::new());
        for round in 0..20 {
            team.run(3, &|_| {
                threads.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(Duration::from_micros(500));
            });
            team.park();
            let start = Instant::now();
            while team.shared.sleepers.load(Ordering::SeqCst) < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "round {round}: parked helpers still spinning"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(threads.lock().unwrap().len(), 3);
    }

    #[test]
    fn nested_and_concurrent_calls_run_inline() {
        let team = Arc::new(Team::new(2).expect("team"));
        let total = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..3 {
                sc.spawn(|| {
                    for _ in 0..100 {
                        team.run(4, &|_| {
                            team.run(3, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 100 * 4 * 3);
    }

    #[test]
    fn a_panicking_part_is_raised_and_the_team_still_works() {
        let team = Team::new(2).expect("team");
        let r = catch_unwind(AssertUnwindSafe(|| {
            team.run(8, &|i| {
                if i == 5 {
                    panic!("part 5");
                }
            })
        }));
        assert!(r.is_err());
        // the team still works
        let hits = AtomicUsize::new(0);
        team.run(10, &|_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 10);
    }

    /// Runs `team.run(2, f)` until a helper has run a part (every part first waits, bounded,
    /// for the other); returns the result of that run.
    fn run_until_a_helper_takes_part(
        team: &Team,
        f: &(dyn Fn(bool) + Sync),
    ) -> std::thread::Result<()> {
        for _ in 0..200 {
            let arrived = AtomicUsize::new(0);
            let on_helper = AtomicBool::new(false);
            let r = catch_unwind(AssertUnwindSafe(|| {
                team.run(2, &|_| {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let t = Instant::now();
                    while arrived.load(Ordering::SeqCst) < 2
                        && t.elapsed() < Duration::from_millis(50)
                    {
                        std::hint::spin_loop();
                    }
                    let helper = std::thread::current()
                        .name()
                        .is_some_and(|n| n.starts_with("rbms-"));
                    if helper {
                        on_helper.store(true, Ordering::SeqCst);
                    }
                    f(helper);
                })
            }));
            if on_helper.load(Ordering::SeqCst) {
                return r;
            }
        }
        panic!("no helper took part in 200 runs");
    }

    #[test]
    fn a_helpers_panic_reaches_the_caller_with_its_payload() {
        struct Payload(u32);
        let team = Team::new(2).expect("team");
        let r = run_until_a_helper_takes_part(&team, &|helper| {
            if helper {
                std::panic::panic_any(Payload(7));
            }
        });
        let p = r.expect_err("the helper's panic is raised");
        assert_eq!(p.downcast_ref::<Payload>().map(|p| p.0), Some(7));
        // both panic: the caller's is raised, and nothing is left for the next run
        let r = run_until_a_helper_takes_part(&team, &|_| panic!("both"));
        assert!(r.is_err());
        let clean = catch_unwind(AssertUnwindSafe(|| team.run(4, &|_| {})));
        assert!(clean.is_ok(), "a run without a panic raised one");
    }

    #[test]
    fn dropped_teams_end_their_helpers() {
        // Dropped at once, before the helpers have started: they must still see the shutdown.
        let shared: Vec<_> = (0..50)
            .map(|_| Arc::downgrade(&Team::new(3).expect("team").shared))
            .collect();
        let t = Instant::now();
        while shared.iter().any(|w| w.upgrade().is_some()) {
            assert!(t.elapsed() < Duration::from_secs(20), "helpers still alive");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn many_short_jobs_from_several_threads() {
        let team = Team::new(3).expect("team");
        std::thread::scope(|sc| {
            for t in 0..3 {
                let team = &team;
                sc.spawn(move || {
                    for j in 0..3000usize {
                        let parts = 1 + (j * 7 + t) % 9;
                        let hits: Vec<AtomicUsize> =
                            (0..parts).map(|_| AtomicUsize::new(0)).collect();
                        team.run(parts, &|i| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                            if j % 13 == 0 {
                                team.run(3, &|_| {});
                            }
                        });
                        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
    }
}
