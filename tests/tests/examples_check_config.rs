//! Every commented example under `examples/` is a valid configuration, checked by the same
//! code as `gatewayd check-config`, and says what it is for.

use std::path::Path;

use gateway::config::Config;

fn example(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("# Use case")),
        "{name} starts with its use case"
    );
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn e1_cpe_to_pstn_with_a_sip_pbx() {
    let c = example("e1-cpe-pstn-sip-pbx.toml");
    assert_eq!(c.spans.len(), 1);
    assert_eq!(c.trunk_groups[0].members[0].channels.len(), 30);
    assert_eq!(c.sip_trunks.len(), 1);
}

#[test]
fn t1_ni2() {
    let c = example("t1-ni2.toml");
    assert_eq!(c.spans[0].switchtype, gateway::config::SwitchType::Ni2);
    assert_eq!(c.spans[0].law, dahdi_driver::Law::MuLaw);
    assert_eq!(c.trunk_groups[0].members[0].channels.len(), 23);
}

#[test]
fn two_spans_with_failover() {
    let c = example("two-spans-failover.toml");
    assert_eq!(c.routes[0].to, vec!["carrier-a", "carrier-b"]);
}

#[test]
fn dahdi_card() {
    let c = example("dahdi-card.toml");
    assert_eq!(c.spans.len(), 3);
    assert!(matches!(
        c.spans[2].device,
        gateway::config::Device::Dahdi { span: 3, .. }
    ));
}
