pub mod desired;
