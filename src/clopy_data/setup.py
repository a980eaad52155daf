from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = 'clopy_data'
here = Path(__file__).resolve().parent

# `pip install src/clopy_data` (no ROS) also installs the task engine from the
# neighbouring source folder; colcon builds it as its own package.
requires = ['setuptools', 'numpy', 'pandas', 'pyyaml', 'matplotlib', 'scipy', 'rosbags', 'mcap']
if (here.parent / 'clopy_task' / 'setup.py').is_file():
    # file://localhost/...: the form both pip and colcon's requirement parser (distlib) accept
    requires.append(f'clopy_task @ file://localhost{(here.parent / "clopy_task").as_posix()}')

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # the project's message definitions: bags decode with rosbags, no ROS needed
        ('share/' + package_name + '/msg', glob('../clopy_interfaces/msg/*.msg')),
    ],
    install_requires=requires,
    extras_require={'test': ['pytest', 'mcap-ros2-support']},
    zip_safe=False,
    maintainer='CLoPy-ROS developers',
    maintainer_email='clopy-ros@example.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='MIT',
)
