from setuptools import find_packages, setup

package_name = 'clopy_sim'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    extras_require={'test': ['pytest']},
    zip_safe=True,
    maintainer='CLoPy-ROS developers',
    maintainer_email='clopy-ros@example.org',
    description=open('package.xml').read().split('<description>')[1].split('</description>')[0],
    license='MIT',
    # how the camera and pose nodes find the simulation backends without importing
    # this package (clopy_common.plugins)
    entry_points={
        'clopy.frame_sources': [
            'synthetic = clopy_sim.camera_backends:SYNTHETIC_CORTEX',
            'synthetic_behaviour = clopy_sim.camera_backends:SYNTHETIC_BEHAVIOUR',
        ],
        'clopy.pose_backends': [
            'synthetic = clopy_sim.pose_backend:SyntheticPoseBackend',
        ],
        'clopy.lick_simulators': [
            'simulated = clopy_sim.lick_sensor:simulated_lick_rig',
        ],
    },
)
