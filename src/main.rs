fn main() {
    println!("livescan");
}
