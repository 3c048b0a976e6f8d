//! Control commands (impairments, configuration queries) and the sysfs attributes
//! dahdi-tools read under `/sys/bus/dahdi_spans/devices/span-N/`.

use std::fmt::Write as _;

use dahdi_driver::Device;
use tdm_sim::{Impairment, SlipKind};

use crate::Daemon;

fn on_off(w: Option<&str>) -> Result<bool, String> {
    match w {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err("expected on|off\n".into()),
    }
}

/// Runs one text command; `Err` carries the error text.
pub fn command(d: &Daemon, cmd: &str) -> Result<String, String> {
    let mut w = cmd.split_whitespace();
    match w.next() {
        Some("config") => {
            let reg = d.reg.lock().unwrap_or_else(|e| e.into_inner());
            Ok(reg.dump(|s| {
                d.device(s.end)
                    .span_status(s.sim_span)
                    .map(|st| st.alarms.bits())
                    .unwrap_or(0)
            }))
        }
        Some("clock") => {
            let c = d.sim.clock_stats();
            Ok(format!(
                "chunks={} late={} max_lateness_us={} max_wake_us={} max_tick_us={} fifo={}\n",
                c.chunks,
                c.late_chunks,
                c.max_lateness.as_micros(),
                c.max_wake_latency.as_micros(),
                c.max_tick.as_micros(),
                u8::from(c.fifo)
            ))
        }
        Some("impair") => {
            let span: i32 = w
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("impair SPAN WHAT ...\n")?;
            let (end, sim_span) = {
                let reg = d.reg.lock().unwrap_or_else(|e| e.into_inner());
                let s = reg.span(span).ok_or(format!("no span {span}\n"))?;
                (s.end, s.sim_span)
            };
            let what = match w.next() {
                Some("los") => Impairment::LossOfSignal(on_off(w.next())?),
                Some("ais") => Impairment::Ais(on_off(w.next())?),
                Some("dcut") => Impairment::DChannelCut(on_off(w.next())?),
                Some("slip") => Impairment::Slip(match w.next() {
                    Some("drop") => SlipKind::Drop,
                    Some("repeat") => SlipKind::Repeat,
                    _ => return Err("slip drop|repeat\n".into()),
                }),
                Some("biterrors") => {
                    let rate = w.next().and_then(|s| s.parse().ok());
                    let seed = w.next().and_then(|s| s.parse().ok()).unwrap_or(1);
                    Impairment::BitErrors {
                        rate: rate.ok_or("biterrors RATE [SEED]\n")?,
                        seed,
                    }
                }
                Some("nobiterrors") => Impairment::NoBitErrors,
                Some("abort") => Impairment::AbortDChannelFrame,
                _ => return Err("impair SPAN los|ais|dcut on|off | slip drop|repeat | biterrors RATE SEED | nobiterrors | abort\n".into()),
            };
            d.sim
                .impair(sim_span, end, what)
                .map_err(|e| format!("{e}\n"))?;
            tracing::info!(span, ?what, "impairment applied");
            Ok("ok\n".into())
        }
        _ => Err("commands: config | clock | impair SPAN ...\n".into()),
    }
}

/// The text of `/sys/bus/dahdi_spans/devices/span-N/ATTR`, as DAHDI's sysfs shows it.
pub fn sysfs(d: &Daemon, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/sys/bus/dahdi_spans/devices/span-")?;
    let (n, attr) = rest.split_once('/')?;
    let n: i32 = n.parse().ok()?;
    let reg = d.reg.lock().unwrap_or_else(|e| e.into_inner());
    let s = reg.span(n)?.clone();
    let local = reg
        .spans
        .iter()
        .filter(|x| x.end == s.end)
        .position(|x| x.sim_span == s.sim_span)? as i32
        + 1;
    drop(reg);
    let mut out = String::new();
    match attr {
        "basechan" => writeln!(out, "{}", s.basechan),
        "channels" => writeln!(out, "{}", s.kind.channels()),
        "name" => writeln!(out, "{}", s.name()),
        "desc" => writeln!(out, "{}", s.description()),
        "spantype" => writeln!(out, "{:?}", s.kind),
        "local_spanno" => writeln!(out, "{local}"),
        "is_digital" => writeln!(out, "1"),
        "is_sync_master" => writeln!(
            out,
            "{}",
            u8::from(d.device(s.end).sync_source() == Some(s.sim_span))
        ),
        "lineconfig" => writeln!(out, "0x{:X}", s.lineconfig),
        _ => return None,
    }
    .ok()?;
    Some(out)
}
