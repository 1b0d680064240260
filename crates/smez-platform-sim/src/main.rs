//! `smez-platform-sim [ADDR]`: the TikTok, Instagram and YouTube simulators
//! on one listener (default `127.0.0.1:4100`), each under its own base URL.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4100".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
    let sim = smez_platform_sim::Sim::serve(listener).await?;
    for platform in ["tiktok", "instagram", "youtube"] {
        println!("{platform}: {}", sim.base_url(platform));
    }
    println!("admin: {}/admin", sim.core.origin);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
