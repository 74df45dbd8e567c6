// renderswarm POV-Ray conformance fixture: a few objects moving with clock.
#version 3.7;
#include "colors.inc"
global_settings { assumed_gamma 1.0 }
background { rgb <0.3, 0.5, 0.9> }
camera { location <0, 1.5, -4> look_at <0, 0.5, 0> }
light_source { <3, 5, -4> color White }
plane { y, 0 pigment { checker rgb 1 rgb 0.2 } }
sphere { <sin(clock * 2 * pi), 0.6, 0>, 0.6
  pigment { rgb <1, 0.3, 0.2> } finish { phong 0.8 reflection 0.2 } }
box { <-0.4, 0, 1>, <0.4, 0.8, 1.8> rotate y * clock * 90 pigment { rgb <0.2, 0.5, 1> } }
cylinder { <-1.5, 0, 0>, <-1.5, 0.5 + clock, 0>, 0.2 pigment { Green } }
