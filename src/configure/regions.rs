//! The commercial AWS regions, for `configure --all-regions ACCOUNT`.
//!
//! Taken from the `aws` partition of the endpoint data the AWS SDK for Rust ships
//! (aws-sdk-ecr 1.138). Opt-in regions are included: an entry for a region the account has
//! not enabled costs nothing, because clients consult it only for that region's host.
//! GovCloud, China, the European Sovereign Cloud and the isolated partitions are left out:
//! accounts there are separate, and their hosts are named on the command line.

/// (region, opt-in: must be enabled for an account before use).
pub const COMMERCIAL: &[(&str, bool)] = &[
    ("af-south-1", true),
    ("ap-east-1", true),
    ("ap-east-2", true),
    ("ap-northeast-1", false),
    ("ap-northeast-2", false),
    ("ap-northeast-3", false),
    ("ap-south-1", false),
    ("ap-south-2", true),
    ("ap-southeast-1", false),
    ("ap-southeast-2", false),
    ("ap-southeast-3", true),
    ("ap-southeast-4", true),
    ("ap-southeast-5", true),
    ("ap-southeast-6", true),
    ("ap-southeast-7", true),
    ("ca-central-1", false),
    ("ca-west-1", true),
    ("eu-central-1", false),
    ("eu-central-2", true),
    ("eu-north-1", false),
    ("eu-south-1", true),
    ("eu-south-2", true),
    ("eu-west-1", false),
    ("eu-west-2", false),
    ("eu-west-3", false),
    ("il-central-1", true),
    ("me-central-1", true),
    ("me-south-1", true),
    ("mx-central-1", true),
    ("sa-east-1", false),
    ("us-east-1", false),
    ("us-east-2", false),
    ("us-west-1", false),
    ("us-west-2", false),
];

/// The account's registry host in every commercial region.
pub fn all_region_hosts(account: &str) -> Vec<String> {
    COMMERCIAL
        .iter()
        .map(|(region, _)| format!("{account}.dkr.ecr.{region}.amazonaws.com"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, parse_registry};

    #[test]
    fn every_host_is_that_accounts_registry_in_that_region() {
        let hosts = all_region_hosts("123456789012");
        assert_eq!(hosts.len(), COMMERCIAL.len());
        for (host, (region, _)) in hosts.iter().zip(COMMERCIAL) {
            match parse_registry(host) {
                Some(Registry::Private(p)) => {
                    assert_eq!(
                        (p.account.as_str(), p.region.as_str()),
                        ("123456789012", *region)
                    );
                }
                other => panic!("{host}: {other:?}"),
            }
        }
    }

    #[test]
    fn list_is_sorted_and_unique() {
        assert!(COMMERCIAL.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
