"""rosbag2 (MCAP storage) bags on the pure-Python ``rosbags`` library, no rclpy.

One import for the whole job, split by part:

- :mod:`clopy_data.bag_types`: the project's message types from the ``.msg`` text;
- :mod:`clopy_data.bag_write`: :class:`McapBagWriter` (chunked, crash-tolerant);
- :mod:`clopy_data.bag_read`: :func:`read_bag`, :func:`topic_counts`;
- :mod:`clopy_data.salvage`: :func:`salvage_bag` (streaming, with a :class:`SalvageReport`) for a bag
  whose recorder was killed; :func:`readable_bag`, the offline tools' way to open any bag.
"""

from clopy_data.bag_read import BagMessage, read_bag, topic_counts
from clopy_data.bag_types import (INTERFACES_PACKAGE, BagError, find_interface_dir, typestore_from_definitions,
                                  typestore_with_clopy)
from clopy_data.bag_write import BAG_VERSION, LIBRARY_CHUNK_BYTES, McapBagWriter
from clopy_data.salvage import SalvageReport, readable_bag, salvage_bag

__all__ = [
    'BAG_VERSION', 'INTERFACES_PACKAGE', 'LIBRARY_CHUNK_BYTES', 'BagError', 'BagMessage', 'McapBagWriter',
    'SalvageReport',
    'find_interface_dir', 'read_bag', 'readable_bag', 'salvage_bag', 'topic_counts', 'typestore_from_definitions',
    'typestore_with_clopy',
]
