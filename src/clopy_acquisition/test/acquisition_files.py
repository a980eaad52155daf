"""Frame helpers shared by the frame-source tests."""
import numpy as np

N, H, W = 6, 12, 16


def bgr_stack(n=N, h=H, w=W):
    """Frames whose pixels encode (frame, channel) so mix-ups show."""
    stack = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        stack[i, ..., 0] = 10 + i      # blue
        stack[i, ..., 1] = 100 + i     # green
        stack[i, ..., 2] = 200 + i     # red
        stack[i, i % h, :, 0] = 0      # a per-frame stripe
    return stack


def read_all(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


LEVELS = [20, 60, 100, 140, 180]


def camera_node(*params):
    """A CameraNode with these `name:=value` parameters (rclpy initialised for it)."""
    import rclpy
    from clopy_acquisition.camera_node import CameraNode
    rclpy.init(args=['--ros-args'] + [a for p in params for a in ('-p', p)])
    try:
        return CameraNode()
    except BaseException:
        rclpy.shutdown()
        raise


def spin_listening(node, subscriptions, done, timeout_s: float) -> None:
    """Spin `node` beside a listener subscribed to (type, topic, qos, list) each, until
    done() or timeout_s."""
    import time

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    listener = rclpy.create_node('listener')
    for msg_type, topic, qos, received in subscriptions:
        listener.create_subscription(msg_type, topic, received.append, qos)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(listener)
    try:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(node)
        listener.destroy_node()
