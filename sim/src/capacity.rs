//! DynamoDB's capacity, as its developer guide states it, charged per second.
//!
//! - A write costs 1 WCU per KB of the item, rounded up; an `UpdateItem` is charged on
//!   the larger of the item before and after, and a write whose condition fails costs the
//!   same ("Read/write capacity mode": conditional writes that fail still consume WCU).
//! - A strongly consistent read costs 1 RCU per 4 KB, rounded up.
//! - One partition serves at most 1,000 WCU and 3,000 RCU a second, and one item never
//!   more than its partition ("Best practices for designing and using partition keys
//!   effectively"). A request over the limit is throttled and charged nothing.
//!
//! The model's assumption, stated: a fixed one-second window with no burst credit (real
//! partitions keep some unused capacity for bursts, so the model throttles a little
//! earlier than DynamoDB would), and adaptive capacity never splits one item.

use std::collections::BTreeMap;

/// A partition's limits per second.
pub const PARTITION_WCU: u32 = 1_000;
pub const PARTITION_RCU: u32 = 3_000;

/// WCU of a write touching an item of `bytes` (the larger of before and after).
pub fn wcu(bytes: usize) -> u32 {
    bytes.div_ceil(1024).max(1) as u32
}

/// RCU of a strongly consistent read of an item of `bytes`.
pub fn rcu(bytes: usize) -> u32 {
    bytes.div_ceil(4096).max(1) as u32
}

/// Units used in each second, with the peak second kept.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    second: i64,
    used: u32,
    pub peak: u32,
    pub total: u64,
}

impl Meter {
    /// Charge `units` in the second of `now_ms` if `limit` allows (None: no limit).
    pub fn charge(&mut self, now_ms: i64, units: u32, limit: Option<u32>) -> bool {
        let second = now_ms.div_euclid(1000);
        if second != self.second {
            self.second = second;
            self.used = 0;
        }
        if limit.is_some_and(|l| self.used + units > l) {
            return false;
        }
        self.used += units;
        self.total += u64::from(units);
        self.peak = self.peak.max(self.used);
        true
    }
}

/// Which capacity a request draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Units {
    Read,
    Write,
}

/// The meters of every item and of the one partition they share.
#[derive(Clone, Debug, Default)]
pub struct Meters {
    pub items: BTreeMap<(String, Units), Meter>,
    pub partition: BTreeMap<Units, Meter>,
}

impl Meters {
    /// Charge a request on `item` against the partition's limit; false: throttled.
    pub fn charge(&mut self, now_ms: i64, item: &str, kind: Units, units: u32) -> bool {
        let limit = match kind {
            Units::Read => PARTITION_RCU,
            Units::Write => PARTITION_WCU,
        };
        let partition = self.partition.entry(kind).or_default();
        if !partition.charge(now_ms, units, Some(limit)) {
            return false;
        }
        self.items
            .entry((item.to_string(), kind))
            .or_default()
            .charge(now_ms, units, None);
        true
    }

    /// The peak second of `item`'s `kind` units.
    pub fn item_peak(&self, item: &str, kind: Units) -> u32 {
        self.items
            .get(&(item.to_string(), kind))
            .map_or(0, |m| m.peak)
    }

    /// The peak second of the busiest item's `kind` units.
    pub fn busiest_item_peak(&self, kind: Units) -> u32 {
        self.items
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, m)| m.peak)
            .max()
            .unwrap_or(0)
    }

    pub fn partition_peak(&self, kind: Units) -> u32 {
        self.partition.get(&kind).map_or(0, |m| m.peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_as_the_guide_says() {
        assert_eq!((wcu(1), wcu(1024), wcu(1025), wcu(3300)), (1, 1, 2, 4));
        assert_eq!((rcu(1), rcu(4096), rcu(4097)), (1, 1, 2));
    }

    #[test]
    fn a_partition_throttles_past_its_second_and_recovers_in_the_next() {
        let mut m = Meters::default();
        for _ in 0..250 {
            assert!(m.charge(5_000, "breaker#crm", Units::Write, 4));
        }
        assert!(
            !m.charge(5_999, "token#crm", Units::Write, 1),
            "1,000 WCU used"
        );
        assert!(
            m.charge(5_999, "token#crm", Units::Read, 1),
            "reads are separate"
        );
        assert!(
            m.charge(6_000, "token#crm", Units::Write, 1),
            "a new second"
        );
        assert_eq!(m.item_peak("breaker#crm", Units::Write), 1_000);
        assert_eq!(m.partition_peak(Units::Write), 1_000);
    }
}
