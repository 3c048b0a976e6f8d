//! Process limits the daemon raises at start.
//!
//! Every call holds descriptors: its B-channel (`/dev/dahdi/channel`, one per channel on a
//! real card), its RTP socket, and for TCP/TLS SIP trunks and H.323 its signalling
//! connections; the media engine's io_uring registers the sockets too. The usual soft limit
//! of open files is 1,024 (`getrlimit(2)`), fewer than a box of 16 E1s needs (480
//! B-channels and as many RTP sockets, plus the kept sockets of ended calls), so the
//! daemon takes its hard limit, as Asterisk's `maxfiles` does.

use std::io;

/// Raise the soft limit of open files (`RLIMIT_NOFILE`) to the hard limit. Returns the
/// soft limit before and after.
pub fn raise_open_files() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur >= lim.rlim_max {
        return Ok((before, before));
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads one valid rlimit; a soft limit up to the hard one needs no
    // privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((before, lim.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soft_and_hard() -> (u64, u64) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        (lim.rlim_cur, lim.rlim_max)
    }

    #[test]
    fn the_soft_limit_of_open_files_goes_up_to_the_hard_one() {
        let (_, hard) = soft_and_hard();
        // Start from a soft limit below the hard one, as a service manager's default is
        // (just below: other tests of this process open descriptors meanwhile).
        let low = hard.saturating_sub(1).max(1);
        let lim = libc::rlimit {
            rlim_cur: low,
            rlim_max: hard,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        let (before, after) = raise_open_files().unwrap();
        assert_eq!(before, low);
        assert_eq!(after, hard);
        assert_eq!(soft_and_hard(), (hard, hard));
        // Already at the hard limit: nothing to do.
        assert_eq!(raise_open_files().unwrap(), (hard, hard));
    }
}
