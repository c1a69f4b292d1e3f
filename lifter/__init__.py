"""2D-to-3D lifting: skeleton tables, camera model, GUMLP network, UAO refinement."""
