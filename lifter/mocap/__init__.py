"""Motion capture: readers (ASF/AMC, BVH on four rigs), the rigs' mapping tables, Human3.6M
target definitions, body sizes and the synthesis of poses the captures lack."""
