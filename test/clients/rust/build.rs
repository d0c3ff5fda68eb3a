// Reads the locked redis-rs version from Cargo.lock, so the probe reports the library
// it was built with (redis-rs exposes no version constant).
fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut version = "unknown".to_string();
    let mut in_redis = false;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            in_redis = false;
        } else if line == "name = \"redis\"" {
            in_redis = true;
        } else if in_redis {
            if let Some(v) = line.strip_prefix("version = \"").and_then(|v| v.strip_suffix('"')) {
                version = v.to_string();
                break;
            }
        }
    }
    println!("cargo:rustc-env=REDIS_RS_VERSION={version}");
}
