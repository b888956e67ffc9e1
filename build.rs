//! Compiles proto/reel/v1 with protox (pure Rust, no system protoc) and writes the
//! descriptor set that the reflection service serves.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let fds = protox::compile(["reel/v1/reel.proto"], ["proto"])?;
    std::fs::write(
        out.join("reel_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    // compile_fds emits no rerun lines of its own.
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
