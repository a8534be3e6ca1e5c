//! Byte sizes as people write them: `65536`, `512M`, `1.5G`, `2GiB`. Every unit is a binary
//! multiple (K = 1024), whatever its spelling — memory limits are about RAM, which comes in
//! powers of two, and one meaning per letter is easier to remember than two.

use super::ConfigError;

const UNITS: &[(&str, u32)] = &[("t", 40), ("g", 30), ("m", 20), ("k", 10)];

/// Parses a size; see [`super::parse_size`].
pub(crate) fn parse(text: &str) -> Result<u64, ConfigError> {
    let invalid = |why: &str| {
        ConfigError(format!(
            "invalid size \"{text}\": {why} (expected a number of bytes or a number with a unit \
             K, M, G or T, such as \"512M\" or \"1.5G\")"
        ))
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid("it is empty"));
    }
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    if number.is_empty() {
        return Err(invalid(if t.starts_with('-') {
            "sizes cannot be negative"
        } else {
            "it does not start with a number"
        }));
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err(invalid("it is not a number"));
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        u => {
            let letter = u.get(..1).unwrap_or("");
            let rest = u.get(1..).unwrap_or("");
            match UNITS.iter().find(|(l, _)| *l == letter) {
                Some((_, shift)) if matches!(rest, "" | "b" | "ib") => *shift,
                _ => return Err(invalid("unknown unit")),
            }
        }
    };
    let multiplier = 1u128 << shift;
    let too_large = || invalid("it is too large");
    let mut bytes = 0u128;
    for d in whole.bytes() {
        bytes = bytes
            .checked_mul(10)
            .and_then(|b| b.checked_add(u128::from(d - b'0')))
            .filter(|b| *b <= u128::from(u64::MAX))
            .ok_or_else(too_large)?;
    }
    bytes *= multiplier;
    // Fractional digits beyond 24 are below a millionth of a byte even in TiB: ignore them.
    let fraction = &fraction[..fraction.len().min(24)];
    if !fraction.is_empty() {
        let scale = 10u128.pow(fraction.len() as u32);
        let digits: u128 = fraction.parse().expect("ASCII digits");
        if shift == 0 && digits != 0 {
            return Err(invalid("a number of bytes must be whole"));
        }
        bytes += digits * multiplier / scale;
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

/// The shortest exact spelling of a size that [`super::parse_size`] reads back: `2G`, `1536K`,
/// `1000`.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in UNITS {
        if bytes != 0 && bytes.trailing_zeros() >= *shift {
            return format!("{}{}", bytes >> shift, unit.to_ascii_uppercase());
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_spellings() {
        assert_eq!(parse("65536").unwrap(), 65536);
        assert_eq!(parse("512M").unwrap(), 512 << 20);
        assert_eq!(parse("512m").unwrap(), 512 << 20);
        assert_eq!(parse("2G").unwrap(), 2 << 30);
        assert_eq!(parse("2 GB").unwrap(), 2 << 30);
        assert_eq!(parse("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse(".5k").unwrap(), 512);
        assert_eq!(parse("3T").unwrap(), 3 << 40);
        assert_eq!(parse("100b").unwrap(), 100);
        assert_eq!(parse(" 7K ").unwrap(), 7 << 10);
        assert_eq!(parse("16E").ok(), None);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            " ",
            "-1",
            "-1G",
            "G",
            "1.2.3",
            ".",
            "1.5",
            "1X",
            "1 GG",
            "1e9",
            "18446744073709551616",
            "16777216T",
            "+5",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse("18446744073709551615").unwrap(), u64::MAX);
    }

    #[test]
    fn format_round_trips() {
        for n in [
            0,
            1,
            1000,
            1024,
            1536,
            4096,
            1 << 20,
            2 << 30,
            3 << 40,
            u64::MAX,
        ] {
            assert_eq!(parse(&format_size(n)).unwrap(), n, "{}", format_size(n));
        }
        assert_eq!(format_size(2 << 30), "2G");
        assert_eq!(format_size(1536), "1536");
        assert_eq!(format_size(3 << 19), "1536K");
    }
}
