//! Where the browser can be: round trips to edges of known location bound its distance from each
//! (light in fibre covers about 100 km of distance per millisecond of round trip; a round trip can
//! be inflated, never shortened), so a claimed location outside any edge's disc is impossible.

/// Distance covered per millisecond of round trip (km): 200 km/ms one way in fibre, halved.
pub const KM_PER_RTT_MS: f64 = 100.0;
/// Slack for the edge's own position and last-mile detours (km).
pub const SLACK_KM: f64 = 100.0;
/// A disc wider than this (km) says nothing useful about where the browser is.
pub const USEFUL_RADIUS_KM: f64 = 4_000.0;
const EARTH_RADIUS_KM: f64 = 6_371.0;

/// A point on Earth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat_deg: f64,
    pub lon_deg: f64,
}

impl LatLon {
    /// Parses `"40.71,-74.01"` or a city name from [`CITIES`].
    pub fn parse(text: &str) -> Option<(LatLon, Option<&'static City>)> {
        if let Some(city) = city(text) {
            return Some((city.location(), Some(city)));
        }
        let (lat, lon) = text.split_once(',')?;
        let (lat_deg, lon_deg) = (lat.trim().parse::<f64>().ok()?, lon.trim().parse::<f64>().ok()?);
        ((-90.0..=90.0).contains(&lat_deg) && (-180.0..=180.0).contains(&lon_deg))
            .then_some((LatLon { lat_deg, lon_deg }, None))
    }
}

/// Great-circle distance (km), by the haversine formula.
pub fn distance_km(a: LatLon, b: LatLon) -> f64 {
    let (la1, la2) = (a.lat_deg.to_radians(), b.lat_deg.to_radians());
    let (dla, dlo) = ((b.lat_deg - a.lat_deg).to_radians(), (b.lon_deg - a.lon_deg).to_radians());
    let h = libm::sin(dla / 2.0).powi(2)
        + libm::cos(la1) * libm::cos(la2) * libm::sin(dlo / 2.0).powi(2);
    2.0 * EARTH_RADIUS_KM * libm::asin(libm::sqrt(h.min(1.0)))
}

/// The smallest round trip measured to an edge at a known place.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRtt {
    pub edge_id: String,
    pub location: LatLon,
    pub min_rtt_us: u64,
}

impl EdgeRtt {
    /// How far from the edge the browser can be (km).
    pub fn radius_km(&self) -> f64 {
        self.min_rtt_us as f64 / 1000.0 * KM_PER_RTT_MS
    }
}

/// Whether a claimed location fits the round trips.
#[derive(Debug, Clone, PartialEq)]
pub enum LocationCheck {
    /// Inside every edge's disc; the tightest disc has this radius (km).
    Consistent { radius_km: f64, edge_id: String },
    /// Outside an edge's disc by at least this much (km).
    Inconsistent { by_km: f64, edge_id: String },
    /// No round trip, or discs too wide to tell.
    Inconclusive,
}

/// Checks a claimed location against every edge's disc.
pub fn check_claim(claim: LatLon, rtts: &[EdgeRtt]) -> LocationCheck {
    let worst = rtts
        .iter()
        .map(|e| (distance_km(claim, e.location) - e.radius_km() - SLACK_KM, e))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match worst {
        Some((excess_km, edge)) if excess_km > 0.0 => {
            LocationCheck::Inconsistent { by_km: excess_km, edge_id: edge.edge_id.clone() }
        }
        Some(_) => {
            let tightest = rtts.iter().min_by(|a, b| a.radius_km().total_cmp(&b.radius_km()));
            match tightest {
                Some(edge) if edge.radius_km() <= USEFUL_RADIUS_KM => LocationCheck::Consistent {
                    radius_km: edge.radius_km(),
                    edge_id: edge.edge_id.clone(),
                },
                _ => LocationCheck::Inconclusive,
            }
        }
        None => LocationCheck::Inconclusive,
    }
}

/// A major city: where it is and its time zone, with the zone's standard and summer offsets from
/// UTC (minutes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct City {
    pub name: &'static str,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub time_zone: &'static str,
    pub utc_offsets_min: (i32, i32),
}

impl City {
    pub fn location(&self) -> LatLon {
        LatLon { lat_deg: self.lat_deg, lon_deg: self.lon_deg }
    }
}

macro_rules! cities {
    ($(($name:literal, $lat:expr, $lon:expr, $tz:literal, $std:expr, $dst:expr)),* $(,)?) => {
        &[$(City { name: $name, lat_deg: $lat, lon_deg: $lon, time_zone: $tz, utc_offsets_min: ($std, $dst) }),*]
    };
}

/// Cities a candidate can claim by name; coordinates to two decimals.
pub const CITIES: &[City] = cities![
    ("New York", 40.71, -74.01, "America/New_York", -300, -240),
    ("Boston", 42.36, -71.06, "America/New_York", -300, -240),
    ("Washington", 38.91, -77.04, "America/New_York", -300, -240),
    ("Atlanta", 33.75, -84.39, "America/New_York", -300, -240),
    ("Miami", 25.76, -80.19, "America/New_York", -300, -240),
    ("Chicago", 41.88, -87.63, "America/Chicago", -360, -300),
    ("Dallas", 32.78, -96.80, "America/Chicago", -360, -300),
    ("Houston", 29.76, -95.37, "America/Chicago", -360, -300),
    ("Denver", 39.74, -104.99, "America/Denver", -420, -360),
    ("Phoenix", 33.45, -112.07, "America/Phoenix", -420, -420),
    ("Los Angeles", 34.05, -118.24, "America/Los_Angeles", -480, -420),
    ("San Francisco", 37.77, -122.42, "America/Los_Angeles", -480, -420),
    ("Seattle", 47.61, -122.33, "America/Los_Angeles", -480, -420),
    ("Toronto", 43.65, -79.38, "America/Toronto", -300, -240),
    ("Mexico City", 19.43, -99.13, "America/Mexico_City", -360, -360),
    ("São Paulo", -23.55, -46.63, "America/Sao_Paulo", -180, -180),
    ("London", 51.51, -0.13, "Europe/London", 0, 60),
    ("Paris", 48.86, 2.35, "Europe/Paris", 60, 120),
    ("Berlin", 52.52, 13.40, "Europe/Berlin", 60, 120),
    ("Warsaw", 52.23, 21.01, "Europe/Warsaw", 60, 120),
    ("Kyiv", 50.45, 30.52, "Europe/Kyiv", 120, 180),
    ("Moscow", 55.76, 37.62, "Europe/Moscow", 180, 180),
    ("Istanbul", 41.01, 28.98, "Europe/Istanbul", 180, 180),
    ("Dubai", 25.20, 55.27, "Asia/Dubai", 240, 240),
    ("Mumbai", 19.08, 72.88, "Asia/Kolkata", 330, 330),
    ("Bangalore", 12.97, 77.59, "Asia/Kolkata", 330, 330),
    ("Singapore", 1.35, 103.82, "Asia/Singapore", 480, 480),
    ("Beijing", 39.90, 116.41, "Asia/Shanghai", 480, 480),
    ("Shenyang", 41.81, 123.43, "Asia/Shanghai", 480, 480),
    ("Pyongyang", 39.04, 125.76, "Asia/Pyongyang", 540, 540),
    ("Seoul", 37.57, 126.98, "Asia/Seoul", 540, 540),
    ("Tokyo", 35.68, 139.69, "Asia/Tokyo", 540, 540),
    ("Manila", 14.60, 120.98, "Asia/Manila", 480, 480),
    ("Sydney", -33.87, 151.21, "Australia/Sydney", 600, 660),
    ("Lagos", 6.52, 3.38, "Africa/Lagos", 60, 60),
    ("Johannesburg", -26.20, 28.05, "Africa/Johannesburg", 120, 120),
];

/// Finds a city by name, ignoring case.
pub fn city(name: &str) -> Option<&'static City> {
    CITIES.iter().find(|c| c.name.eq_ignore_ascii_case(name.trim()))
}

/// The UTC offsets (standard, summer) of a time zone named by a listed city.
pub fn zone_offsets(time_zone: &str) -> Option<(i32, i32)> {
    CITIES.iter().find(|c| c.time_zone == time_zone).map(|c| c.utc_offsets_min)
}

/// Whether the browser's time zone fits the claimed city: `None` when the zone is unknown here.
pub fn time_zone_fits(claimed: &City, browser_time_zone: &str) -> Option<bool> {
    if claimed.time_zone == browser_time_zone {
        return Some(true);
    }
    let (std, dst) = zone_offsets(browser_time_zone)?;
    let (c_std, c_dst) = claimed.utc_offsets_min;
    Some(std == c_std || dst == c_dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn edge(id: &str, city_name: &str, rtt_ms: u64) -> EdgeRtt {
        EdgeRtt {
            edge_id: id.into(),
            location: city(city_name)
                .map(City::location)
                .unwrap_or(LatLon { lat_deg: 0.0, lon_deg: 0.0 }),
            min_rtt_us: rtt_ms * 1000,
        }
    }

    #[test]
    fn distances_match_known_figures() {
        let d = |a: &str, b: &str| {
            distance_km(
                city(a).map(City::location).expect("a"),
                city(b).map(City::location).expect("b"),
            )
        };
        assert!((d("New York", "London") - 5_570.0).abs() < 30.0, "{}", d("New York", "London"));
        assert!(
            (d("Los Angeles", "Tokyo") - 8_815.0).abs() < 40.0,
            "{}",
            d("Los Angeles", "Tokyo")
        );
        assert!(d("Chicago", "Chicago") < 0.001);
    }

    #[test]
    fn a_claim_outside_a_disc_is_inconsistent() {
        // A browser 2 ms from New York and 40 ms from Chicago...
        let rtts = [
            edge("nyc", "New York", 2),
            edge("chi", "Chicago", 40),
            edge("lax", "Los Angeles", 90),
        ];
        let claim = |name: &str| check_claim(city(name).map(City::location).expect("city"), &rtts);
        assert!(
            matches!(claim("New York"), LocationCheck::Consistent { radius_km, .. } if radius_km == 200.0)
        );
        // Boston is 306 km from New York: just outside 200 km plus the 100 km slack.
        assert!(
            matches!(claim("Boston"), LocationCheck::Inconsistent { by_km, .. } if by_km < 10.0),
            "{:?}",
            claim("Boston")
        );
        match claim("Pyongyang") {
            LocationCheck::Inconsistent { by_km, edge_id } => {
                assert!(by_km > 10_000.0 && edge_id == "nyc", "{by_km} {edge_id}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(claim("Chicago"), LocationCheck::Inconsistent { .. }));
    }

    #[test]
    fn wide_discs_or_none_are_inconclusive() {
        assert_eq!(
            check_claim(LatLon { lat_deg: 0.0, lon_deg: 0.0 }, &[]),
            LocationCheck::Inconclusive
        );
        let wide = [edge("nyc", "New York", 250)];
        assert_eq!(
            check_claim(city("London").map(City::location).expect("city"), &wide),
            LocationCheck::Inconclusive
        );
    }

    #[test]
    fn time_zones_and_parsing() {
        let ny = city("new york").expect("case-insensitive");
        assert_eq!(time_zone_fits(ny, "America/New_York"), Some(true));
        assert_eq!(time_zone_fits(ny, "America/Toronto"), Some(true));
        assert_eq!(time_zone_fits(ny, "Asia/Pyongyang"), Some(false));
        assert_eq!(time_zone_fits(ny, "Antarctica/Troll"), None);
        assert_eq!(
            LatLon::parse("40.5, -73.9").map(|(l, c)| (l.lat_deg, c.is_none())),
            Some((40.5, true))
        );
        assert!(LatLon::parse("95,0").is_none() && LatLon::parse("Atlantis").is_none());
    }
}
