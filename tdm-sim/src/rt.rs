//! Real-time scheduling for the threads that own the TDM tick.
//!
//! On a card, DAHDI's 1 ms tick runs in interrupt context: nothing ordinary delays it.
//! In user space the nearest equivalent is `SCHED_FIFO` (Asterisk's and FreeSWITCH's
//! timing threads run with real-time priority too), with the process's memory locked so
//! that a page fault in the tick never waits for the disk. Both need privileges
//! (`CAP_SYS_NICE`, `CAP_IPC_LOCK`, or the matching rlimits); without them the threads
//! run at normal priority and say so once in the log.
//!
//! Threads that use this sleep between ticks (an absolute `clock_nanosleep` or a futex
//! wait): a real-time thread that never slept would starve the signalling threads, and
//! the kernel's real-time throttling (`sched_rt_runtime_us`, 95 % by default) would then
//! be all that is left to save them.

use std::io;

/// `SCHED_FIFO` priority of the simulator's clock thread: above the media threads it
/// feeds, as a card's interrupt is above every thread.
pub const CLOCK_PRIORITY: i32 = 10;
/// `SCHED_FIFO` priority of media threads (they own the TDM tick of their channels).
pub const MEDIA_PRIORITY: i32 = 9;

/// Puts the calling thread in `SCHED_FIFO` at `prio`.
pub fn set_fifo(prio: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: setting the calling thread's (pid 0) policy with a valid parameter.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the calling thread runs `SCHED_FIFO`.
pub fn is_fifo() -> bool {
    // SAFETY: querying the calling thread's policy.
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_FIFO }
}

/// `SCHED_FIFO` at `prio` for the calling thread, `who` naming it in the log; returns
/// whether it was granted. A refusal is logged once per call as a warning with the
/// reason: the thread then keeps its normal priority and works, only less punctually on
/// a busy host.
pub fn enter_fifo(who: &str, prio: i32) -> bool {
    match set_fifo(prio) {
        Ok(()) => {
            tracing::debug!(thread = who, priority = prio, "SCHED_FIFO");
            true
        }
        Err(e) => {
            tracing::warn!(
                thread = who,
                priority = prio,
                error = %e,
                "SCHED_FIFO not permitted; running at normal priority (late ticks likely on a loaded host)"
            );
            false
        }
    }
}

/// CPU time the calling thread has used, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Locks the process's memory (`mlockall`): pages already used, and every page used
/// later once touched (`MCL_ONFAULT`, so thread stacks and reserved heap are not all
/// populated up front). Process-wide, so programs call it, not libraries. It is only
/// tried with `CAP_IPC_LOCK` (taken as running as root) or an unlimited
/// `RLIMIT_MEMLOCK`: under a small limit, later allocations would fail instead.
pub fn lock_memory() -> io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain queries filling a struct we own.
    let (root, unlimited) = unsafe {
        let unlimited = libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) == 0
            && lim.rlim_cur == libc::RLIM_INFINITY;
        (libc::geteuid() == 0, unlimited)
    };
    if !root && !unlimited {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "neither root nor an unlimited RLIMIT_MEMLOCK",
        ));
    }
    // SAFETY: mlockall takes flags only.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EINVAL) {
        return Err(e);
    }
    // Kernels before 4.4 have no MCL_ONFAULT.
    // SAFETY: as above.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// [`lock_memory`], logging the outcome (a warning when refused); returns whether the
/// memory is locked.
pub fn enter_locked_memory(who: &str) -> bool {
    match lock_memory() {
        Ok(()) => {
            tracing::debug!(program = who, "memory locked (mlockall)");
            true
        }
        Err(e) => {
            tracing::warn!(program = who, error = %e, "mlockall not permitted; pages may fault in the tick");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_is_granted_or_refused_cleanly() {
        // On its own thread: the test harness's threads keep their policy.
        let (granted, seen) = std::thread::spawn(|| {
            let granted = set_fifo(1).is_ok();
            (granted, is_fifo())
        })
        .join()
        .unwrap();
        assert_eq!(granted, seen);
    }

    #[test]
    fn invalid_priority_is_an_error() {
        let r = std::thread::spawn(|| set_fifo(1000)).join().unwrap();
        assert!(r.is_err());
    }
}
