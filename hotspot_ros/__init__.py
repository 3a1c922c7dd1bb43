"""ROS 2 node (rclpy) of interaction_hotspots."""
