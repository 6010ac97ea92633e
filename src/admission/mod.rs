//! Admission: the AdmissionReview wire format, the pure verdict on a request, the webhook
//! configuration that decides which requests are sent, and the managed set kept across restarts.

pub mod decide;
pub mod registration;
pub mod remembered;
pub mod review;
