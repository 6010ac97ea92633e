//! Admission: the AdmissionReview wire format and the pure verdict on a request.

pub mod decide;
pub mod review;
